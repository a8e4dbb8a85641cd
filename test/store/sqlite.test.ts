import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { allMembers, describeStoreContract } from './contract.ts';

describeStoreContract('sqlite', async () => {
  const dir = await createTempDir('sqlite-store');
  const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
  return {
    store: createSqliteStore(db),
    cleanup: async () => {
      db.close();
      await dir.remove();
    },
  };
});

describe('SQLite store', () => {
  let dir: TempDir;
  const dirs: TempDir[] = [];
  const freshDir = async () => {
    dir = await createTempDir('sqlite-store');
    dirs.push(dir);
    return dir.path;
  };
  afterEach(async () => {
    for (const made of dirs.splice(0)) await made.remove();
  });

  it('keeps membership across closing and reopening the file', async () => {
    const path = join(await freshDir(), 'cohorts.db');
    const first = openSqliteDatabase(path);
    await createSqliteStore(first).applyBatch(
      cohortBatch({
        cohortName: 'Kept',
        users: [{ userId: 'u1', properties: { plan: 'pro' } }, { userId: 'u2' }],
      }),
    );
    await createSqliteStore(first).applyBatch(
      cohortBatch({ cohortName: 'Kept', inCohort: false, computedTime: 200, users: usersOf('u2') }),
    );
    first.close();

    const reopened = openSqliteDatabase(path);
    const store = createSqliteStore(reopened);
    expect(await store.listCohorts()).toEqual([
      { cohortId: 'c1', cohortName: 'Kept', members: 1, updatedAt: 200 },
    ]);
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties: { plan: 'pro' } },
    ]);
    // The tombstone survived too: an older add still loses.
    expect(await store.applyBatch(cohortBatch({ computedTime: 150, users: usersOf('u2') }))).toEqual([]);
    reopened.close();
  });

  it('rolls applyBatchSync back with an outer transaction that throws', async () => {
    const db = openSqliteDatabase(join(await freshDir(), 'cohorts.db'));
    const store = createSqliteStore(db);
    await store.applyBatch(cohortBatch({ users: usersOf('u1') }));
    const applyThenFail = db.transaction(() => {
      expect(
        store.applyBatchSync(cohortBatch({ computedTime: 200, users: usersOf('u1', 'u2') })),
      ).toHaveLength(1);
      throw new Error('inbox delete failed');
    });

    expect(applyThenFail).toThrow('inbox delete failed');
    expect(await store.listCohorts()).toEqual([
      { cohortId: 'c1', cohortName: 'Cohort one', members: 1, updatedAt: 100 },
    ]);
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties: null },
    ]);
    db.close();
  });

  it('commits applyBatchSync with the outer transaction it runs in', async () => {
    const db = openSqliteDatabase(join(await freshDir(), 'cohorts.db'));
    const store = createSqliteStore(db);
    db.exec('CREATE TABLE inbox (id INTEGER PRIMARY KEY)');
    db.exec('INSERT INTO inbox (id) VALUES (1)');
    const applyAndDelete = db.transaction(() => {
      const changes = store.applyBatchSync(cohortBatch({ users: usersOf('u1') }));
      db.prepare('DELETE FROM inbox WHERE id = 1').run();
      return changes;
    });

    expect(applyAndDelete()).toHaveLength(1);
    expect(db.prepare('SELECT count(*) AS n FROM inbox').get()).toEqual({ n: 0 });
    expect(await store.userCohorts('u1')).toEqual([{ cohortId: 'c1', cohortName: 'Cohort one', since: 100 }]);
    db.close();
  });

  it('works in memory for :memory:', async () => {
    const db = openSqliteDatabase(':memory:');
    const store = createSqliteStore(db);
    await store.applyBatch(cohortBatch());
    expect((await store.listCohorts())[0]?.members).toBe(2);
    db.close();
  });

  it('fails check() once the database is closed, and close() itself is harmless', async () => {
    const db = openSqliteDatabase(':memory:');
    const store = createSqliteStore(db);
    await store.close();
    await expect(store.check()).resolves.toBeUndefined();
    db.close();
    await expect(store.check()).rejects.toThrow(/not open/);
  });
});
