/**
 * The SQLite store's group commit: batches handed over together commit in one transaction, each
 * settles only once that transaction committed, and a group applies every batch exactly as applying
 * them one by one would — at once, or batch by batch when one of them fails.
 */
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { CohortBatch } from '../../src/core/batch.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { allMembers } from './contract.ts';

const dirs: TempDir[] = [];
const freshFile = async () => {
  const dir = await createTempDir('sqlite-group');
  dirs.push(dir);
  return join(dir.path, 'cohorts.db');
};
afterEach(async () => {
  for (const dir of dirs.splice(0)) await dir.remove();
});

/** Users and cohorts overlapping across batches: adds, removes, restated and stale ones, repeats. */
function overlappingBatches(): { batch: CohortBatch; restate: boolean }[] {
  const batches: { batch: CohortBatch; restate: boolean }[] = [];
  for (let index = 0; index < 12; index++) {
    const users = Array.from({ length: 6 }, (_, i) => ({
      userId: `u${(index * 3 + i) % 10}`,
      ...(i % 2 === 0 ? { properties: { plan: index % 3 === 0 ? 'pro' : 'free' } } : {}),
    }));
    batches.push({
      batch: cohortBatch({
        cohortId: `c${index % 2}`,
        cohortName: `Cohort ${index % 2} v${index}`,
        inCohort: index % 4 !== 3,
        computedTime: 100 + ((index * 7) % 5),
        users,
      }),
      restate: index % 5 === 4,
    });
  }
  // The same message again, within the group: a no-op the second time.
  batches.push({ ...(batches[2] as { batch: CohortBatch; restate: boolean }) });
  return batches;
}

async function stateOf(store: MembershipStore) {
  const userIds = Array.from({ length: 10 }, (_, i) => `u${i}`);
  return {
    cohorts: await store.listCohorts(),
    members: [await allMembers(store, 'c0'), await allMembers(store, 'c1')],
    users: await Promise.all(userIds.map((userId) => store.userCohorts(userId))),
  };
}

const committedRows = (path: string) => {
  const reader = new Database(path, { readonly: true });
  try {
    return (reader.prepare('SELECT count(*) AS n FROM cohort_memberships').get() as { n: number }).n;
  } finally {
    reader.close();
  }
};

describe('SQLite store: group commit', () => {
  it('applies batches handed over together exactly as it applies them one by one', async () => {
    const groupedDb = openSqliteDatabase(await freshFile());
    const singleDb = openSqliteDatabase(await freshFile());
    const splits: unknown[] = [];
    const grouped = createSqliteStore(groupedDb, {
      groupCommitUsers: 1_000_000,
      onGroupSplit: (error) => splits.push(error),
    });
    const single = createSqliteStore(singleDb, { groupCommitUsers: 1 });
    const batches = overlappingBatches();

    const groupedChanges = await Promise.all(
      batches.map(({ batch, restate }) => grouped.applyBatch(batch, { restate })),
    );
    const singleChanges: unknown[] = [];
    for (const { batch, restate } of batches) singleChanges.push(await single.applyBatch(batch, { restate }));

    expect(groupedChanges).toEqual(singleChanges);
    expect(groupedChanges.flat().length).toBeGreaterThan(20);
    // The whole group was applied at once, not batch by batch.
    expect(splits).toEqual([]);
    expect(await stateOf(grouped)).toEqual(await stateOf(single));
    groupedDb.close();
    singleDb.close();
  });

  it('commits a group after its wait, and settles no batch before that commit', async () => {
    const path = await freshFile();
    const db = openSqliteDatabase(path);
    const store = createSqliteStore(db, { groupCommitUsers: 1_000_000 });
    const settled: number[] = [];
    const applies = [1, 2, 3].map((n) =>
      store.applyBatch(cohortBatch({ users: usersOf(`a${n}`, `b${n}`) })).then(() => {
        settled.push(committedRows(path));
      }),
    );
    // Handed over, not committed: another connection sees nothing, and no batch has settled.
    expect(committedRows(path)).toBe(0);
    await Promise.resolve();
    expect(settled).toEqual([]);

    await Promise.all(applies);
    // Each batch settled after the one commit of all three.
    expect(settled).toEqual([6, 6, 6]);
    db.close();
  });

  it('commits at once when a group reaches its bound in users, the rest joining the next group', async () => {
    const path = await freshFile();
    const db = openSqliteDatabase(path);
    const store = createSqliteStore(db, { groupCommitUsers: 4 });
    const first = store.applyBatch(cohortBatch({ users: usersOf('a', 'b') }));
    const second = store.applyBatch(cohortBatch({ users: usersOf('c', 'd') }));
    expect(committedRows(path)).toBe(4);
    const third = store.applyBatch(cohortBatch({ users: usersOf('e') }));
    expect(committedRows(path)).toBe(4);
    await Promise.all([first, second, third]);
    expect(committedRows(path)).toBe(5);
    db.close();
  });

  it('rejects only the batch that fails, and commits the others of its group', async () => {
    const db = openSqliteDatabase(await freshFile());
    const splits: unknown[] = [];
    const store = createSqliteStore(db, { onGroupSplit: (error) => splits.push(error) });
    const unserialisable = { big: 1n } as unknown as Record<string, unknown>;
    const outcomes = await Promise.allSettled([
      store.applyBatch(cohortBatch({ cohortId: 'ok1', users: usersOf('u1') })),
      store.applyBatch(
        cohortBatch({
          cohortId: 'bad',
          users: [{ userId: 'u2' }, { userId: 'u3', properties: unserialisable }],
        }),
      ),
      store.applyBatch(cohortBatch({ cohortId: 'ok2', users: usersOf('u4') })),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(splits).toHaveLength(1);
    expect((await store.listCohorts()).map((cohort) => cohort.cohortId)).toEqual(['ok1', 'ok2']);
    expect(await store.userCohorts('u2')).toEqual([]);
    db.close();
  });

  it('rejects every batch of a group whose transaction cannot begin, and applies them when retried', async () => {
    const path = await freshFile();
    openSqliteDatabase(path).close();
    // A short busy timeout, so the held write lock fails the group quickly.
    const db = new Database(path, { timeout: 20 });
    const store = createSqliteStore(db);
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    const batches = [
      cohortBatch({ users: usersOf('u1') }),
      cohortBatch({ cohortId: 'c2', users: usersOf('u2') }),
    ];
    const outcomes = await Promise.allSettled(batches.map((batch) => store.applyBatch(batch)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/locked|busy/i);
    holder.exec('ROLLBACK');
    holder.close();

    await Promise.all(batches.map((batch) => store.applyBatch(batch, { restate: true })));
    expect(committedRows(path)).toBe(2);
    db.close();
  });

  it('commits what is waiting when the store closes', async () => {
    const path = await freshFile();
    const db = openSqliteDatabase(path);
    const store = createSqliteStore(db);
    const applied = store.applyBatch(cohortBatch({ users: usersOf('u1', 'u2') }));
    await store.close();
    expect(committedRows(path)).toBe(2);
    await expect(applied).resolves.toHaveLength(2);
    db.close();
    await nextTurn();
  });
});
