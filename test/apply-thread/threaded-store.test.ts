/**
 * The store on the apply thread: the whole MembershipStore contract through the thread boundary
 * (memory: everything crosses; SQLite: writes on the thread, reads on this thread's own connection),
 * and what only a thread can get wrong: errors crossing, a thread that cannot start, close.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createThreadedStore } from '../../src/apply-thread/threaded-store.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { describeStoreContract } from '../store/contract.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

// A thread per store takes a few hundred ms to start under tsx: fewer property runs than in process.
const contractOptions = { propertyRuns: 10 };

describeStoreContract(
  'memory store on the apply thread',
  async () => ({ store: createThreadedStore({ kind: 'memory' }), cleanup: async () => {} }),
  contractOptions,
);

describeStoreContract(
  'sqlite store on the apply thread, read here',
  async () => {
    const dir = await createTempDir('threaded-store');
    const path = join(dir.path, 'cohorts.db');
    const db = openSqliteDatabase(path);
    return {
      store: createThreadedStore({ kind: 'sqlite', path }, { reads: createSqliteStore(db) }),
      cleanup: async () => {
        db.close();
        await dir.remove();
      },
    };
  },
  contractOptions,
);

describe('the apply thread', () => {
  const dirs: TempDir[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await dir.remove();
  });
  const freshDir = async () => {
    const dir = await createTempDir('threaded-store');
    dirs.push(dir);
    return dir.path;
  };

  it('commits what is waiting when closed, and refuses calls after', async () => {
    const path = join(await freshDir(), 'cohorts.db');
    const store = createThreadedStore({ kind: 'sqlite', path });
    const applying = Array.from({ length: 20 }, (_, index) =>
      store.applyBatch(
        cohortBatch({
          messageId: `m${index}`,
          users: usersOf(...Array.from({ length: 50 }, (_, user) => `u${index}-${user}`)),
        }),
      ),
    );
    const closing = store.close();
    expect((await Promise.all(applying)).flat()).toHaveLength(1000);
    await closing;
    await expect(store.applyBatch(cohortBatch({ messageId: 'late' }))).rejects.toThrow('closed');
    // A thread that exits because it was closed did not stop unasked.
    expect(store.threadStops).toBe(0);

    const db = openSqliteDatabase(path);
    try {
      const [summary] = await createSqliteStore(db).listCohorts();
      expect(summary?.members).toBe(1000);
    } finally {
      db.close();
    }
  });

  it("rejects a call with the store's error, name and message, and keeps serving", async () => {
    const store = createThreadedStore({ kind: 'memory' });
    try {
      const bad = { ...cohortBatch({ messageId: 'bad' }), users: null } as never;
      const error = await store.applyBatch(bad).catch((caught: Error) => caught);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('TypeError');
      await store.applyBatch(cohortBatch({ messageId: 'good', users: usersOf('u1', 'u2', 'u3') }));
      expect((await store.listCohorts())[0]?.members).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('fails the calls of a thread that cannot open its store, says why, and starts a new one on the next call', async () => {
    const root = await freshDir();
    // A file where the database's directory must be: the thread cannot open the store.
    const blocker = join(root, 'data');
    writeFileSync(blocker, 'not a directory');
    const stops: string[] = [];
    const store = createThreadedStore(
      { kind: 'sqlite', path: join(blocker, 'cohorts.db') },
      { onThreadStopped: (reason) => stops.push(reason) },
    );
    try {
      const error = await store.applyBatch(cohortBatch({ messageId: 'm1' })).catch((caught: Error) => caught);
      expect((error as Error).name).toBe('ApplyThreadError');
      expect((error as Error).message).toContain('is a file, not a directory');
      expect(stops).toEqual([(error as Error).message]);
      expect(store.threadStops).toBe(1);

      rmSync(blocker);
      mkdirSync(blocker);
      const changes = await store.applyBatch(cohortBatch({ messageId: 'm1', users: usersOf('u1', 'u2') }));
      expect(changes).toHaveLength(2);
      expect(store.threadStops).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('never starts a thread for a store nobody calls', async () => {
    const root = await freshDir();
    const path = join(root, 'cohorts.db');
    await createThreadedStore({ kind: 'sqlite', path }).close();
    // The thread would have created the file, opening the store.
    expect(existsSync(path)).toBe(false);
  });
});
