/**
 * The applier on the apply thread: the body crosses, is parsed and applied there, and the changes
 * come back; and what only a thread can get wrong: errors crossing, a thread that cannot start, close.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createThreadedApplier } from '../../src/apply-thread/threaded-applier.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { storeApplier } from '../../src/core/worker.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { sqliteStoreRecipe } from '../../src/sqlite/open-store.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch, queued, usersOf } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

describe('the apply thread', () => {
  const dirs: TempDir[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await dir.remove();
  });
  const freshPath = async () => {
    const dir = await createTempDir('threaded-applier');
    dirs.push(dir);
    return join(dir.path, 'cohorts.db');
  };

  it('applies as the event loop would: the same changes, in the same order, and the same state', async () => {
    const threaded = createThreadedApplier(sqliteStoreRecipe(await freshPath()));
    const here = storeApplier(createMemoryStore(), createQueuedBodyDecoder());
    try {
      const batches = [
        cohortBatch({
          messageId: 'a',
          users: [{ userId: 'u1', properties: { plan: 'pro' } }, { userId: 'u2' }],
        }),
        cohortBatch({ messageId: 'b', inCohort: false, computedTime: 200, users: usersOf('u2', 'u3') }),
        cohortBatch({ messageId: 'c', users: [{ userId: 'u1', properties: { plan: 'max' } }] }),
      ];
      for (const batch of batches) {
        for (const restate of [false, true]) {
          const { counts, ...there } = await threaded.apply(queued(batch), { restate });
          const expected = await here(queued(batch), { restate });
          expect({ ...there, changes: there.changes }).toEqual(expected);
          // Counted on the thread, restated changes left out, as the worker counts built changes.
          const counted = { entered: 0, left: 0, updated: 0 };
          for (const change of expected.changes) if (!change.restated) counted[change.kind] += 1;
          expect(counts).toEqual(counted);
        }
      }
    } finally {
      await threaded.close();
    }
  });

  it('commits what is waiting when closed, and refuses calls after', async () => {
    const path = await freshPath();
    const threaded = createThreadedApplier(sqliteStoreRecipe(path));
    const applying = Array.from({ length: 20 }, (_, index) =>
      threaded.apply(
        queued(
          cohortBatch({
            messageId: `m${index}`,
            users: usersOf(...Array.from({ length: 50 }, (_, user) => `u${index}-${user}`)),
          }),
        ),
        { restate: false },
      ),
    );
    const closing = threaded.close();
    expect((await Promise.all(applying)).flatMap((applied) => applied.changes)).toHaveLength(1000);
    await closing;
    await expect(
      threaded.apply(queued(cohortBatch({ messageId: 'late' })), { restate: false }),
    ).rejects.toThrow('closed');
    // A thread that exits because it was closed did not stop unasked.
    expect(threaded.threadStops).toBe(0);

    const db = openSqliteDatabase(path);
    try {
      const [summary] = await createSqliteStore(db).listCohorts();
      expect(summary?.members).toBe(1000);
    } finally {
      db.close();
    }
  });

  it('rejects a call with its error, name and message kept, and keeps serving', async () => {
    const threaded = createThreadedApplier(sqliteStoreRecipe(await freshPath()));
    try {
      const error = await threaded
        .apply({ messageId: 'bad', users: 1, body: '{"users": 5}', receivedAt: 1 }, { restate: false })
        .catch((caught: Error) => caught);
      expect(error).toBeInstanceOf(Error);
      // The worker quarantines a body that no longer parses: it must tell it by its name.
      expect((error as Error).name).toBe('UndecodableBodyError');
      const applied = await threaded.apply(
        queued(cohortBatch({ messageId: 'good', users: usersOf('u1', 'u2', 'u3') })),
        {
          restate: false,
        },
      );
      expect(applied.changes).toHaveLength(3);
    } finally {
      await threaded.close();
    }
  });

  it('fails the calls of a thread that cannot open its store, says why, and starts a new one on the next call', async () => {
    const root = await freshPath();
    // A file where the database's directory must be: the thread cannot open the store.
    const blocker = join(root, '..', 'data');
    writeFileSync(blocker, 'not a directory');
    const stops: string[] = [];
    const threaded = createThreadedApplier(sqliteStoreRecipe(join(blocker, 'cohorts.db')), {
      onThreadStopped: (reason) => stops.push(reason),
    });
    try {
      const error = await threaded
        .apply(queued(cohortBatch({ messageId: 'm1' })), { restate: false })
        .catch((caught: Error) => caught);
      expect((error as Error).name).toBe('ApplyThreadError');
      expect((error as Error).message).toContain('is a file, not a directory');
      expect(stops).toEqual([(error as Error).message]);
      expect(threaded.threadStops).toBe(1);

      rmSync(blocker);
      mkdirSync(blocker);
      const applied = await threaded.apply(
        queued(cohortBatch({ messageId: 'm1', users: usersOf('u1', 'u2') })),
        {
          restate: false,
        },
      );
      expect(applied.changes).toHaveLength(2);
      expect(threaded.threadStops).toBe(1);
    } finally {
      await threaded.close();
    }
  });

  it('never starts a thread nobody calls', async () => {
    const path = await freshPath();
    await createThreadedApplier(sqliteStoreRecipe(path)).close();
    // The thread would have created the file, opening the store.
    expect(existsSync(path)).toBe(false);
  });
});
