import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyingWithInboxRemoval } from '../../src/compose.ts';
import type { CohortBatch } from '../../src/core/batch.ts';
import type { DeliveryInfo } from '../../src/core/queue/queue.ts';
import { createBodyDecoder } from '../../src/runtime/stored-batch.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteQueue, type SqliteQueue, type SqliteQueueOptions } from '../../src/sqlite/queue.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let dir: TempDir;
const open: { db: Database; queue: SqliteQueue }[] = [];

beforeEach(async () => {
  dir = await createTempDir('sqlite-queue');
});
afterEach(async () => {
  for (const { db, queue } of open.splice(0)) {
    await queue.close();
    db.close();
  }
  await dir.remove();
});

/** Opens the queue file as a new process would after a restart. */
function openQueue(options: Partial<SqliteQueueOptions> = {}) {
  const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
  const queue = createSqliteQueue(db, {
    dedupeTtlSeconds: 3600,
    maxUsers: 1_000_000,
    redeliveryDelayMs: 10,
    pollIntervalMs: 20,
    onUndecodable: async () => {},
    ...options,
  });
  open.push({ db, queue });
  return { db, queue };
}

/** Simulates kill -9: the connection goes without the queue finishing anything. */
function crash(db: Database) {
  const index = open.findIndex((entry) => entry.db === db);
  const [entry] = open.splice(index, 1);
  void entry?.queue.close();
  db.close();
}

const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
};

const amplitudeBody = (messageId: string) =>
  JSON.stringify({
    cohort_name: 'Trial',
    cohort_id: 'c1',
    in_cohort: true,
    computed_time: '1692206763',
    message_id: messageId,
    users: [{ user_id: 'u1', user_properties: { plan: 'pro' } }, { user_id: 'u2' }],
  });

describe('sqlite queue', () => {
  it('keeps the raw body, not a re-serialised batch, and hands the worker the same batch', async () => {
    const decodeBody = createBodyDecoder();
    const { db, queue } = openQueue({ decodeBody });
    const rawBody = amplitudeBody('raw-1');
    const batch = decodeBody(rawBody, 1000);
    expect(await queue.accept(batch, { rawBody, receivedAtMs: 1000 })).toBe('accepted');
    expect(db.prepare('SELECT format, body FROM queue_inbox').get()).toEqual({
      format: 'raw',
      body: rawBody,
    });
    const delivered: CohortBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([batch]);
  });

  it('delivers after a restart what was accepted before a kill, and still knows every message_id', async () => {
    const first = openQueue();
    const batches = [cohortBatch(), cohortBatch(), cohortBatch()];
    for (const batch of batches) await first.queue.accept(batch);
    crash(first.db);

    const { queue } = openQueue();
    expect(await queue.accept(batches[0] as CohortBatch)).toBe('duplicate');
    expect(await queue.stats()).toMatchObject({ batches: 3, users: 6 });
    const delivered: string[] = [];
    queue.consume(async (batch) => {
      delivered.push(batch.messageId);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual(batches.map((batch) => batch.messageId));
  });

  it('counts a delivery cut short by a kill, so the next one carries attempt 2', async () => {
    const first = openQueue();
    await first.queue.accept(cohortBatch());
    let started = false;
    first.queue.consume(() => {
      started = true;
      return new Promise(() => {}); // the process dies while applying
    });
    await waitFor(() => started);
    crash(first.db);

    const { queue } = openQueue();
    const deliveries: DeliveryInfo[] = [];
    queue.consume(async (_batch, delivery) => {
      deliveries.push(delivery);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(deliveries.map((delivery) => delivery.attempt)).toEqual([2]);
  });

  it('forgets a message_id after the TTL, and the purge deletes expired marks', async () => {
    let now = 1_000_000;
    const { db, queue } = openQueue({ dedupeTtlSeconds: 60, now: () => now, purgeIntervalMs: 60_000 });
    const batch = cohortBatch();
    await queue.accept(batch);
    await queue.accept(cohortBatch());
    now += 59_000;
    expect(await queue.accept(batch)).toBe('duplicate');
    now += 1000;
    expect(await queue.accept(batch)).toBe('accepted');
    const marks = () => db.prepare('SELECT count(*) FROM queue_seen').pluck().get();
    expect(marks()).toBe(2);
    now += 60_000;
    // A new queue on the file purges at start, as a restart does; the timer does the same each minute.
    openQueue({ dedupeTtlSeconds: 60, now: () => now });
    expect(marks()).toBe(0);
  });

  it('sets aside an entry it cannot read back and removes it from the inbox', async () => {
    const setAside: { messageId: string; reason: string }[] = [];
    const { db, queue } = openQueue({
      decodeBody: createBodyDecoder(),
      onUndecodable: async ({ messageId, reason }) => {
        setAside.push({ messageId, reason });
      },
    });
    const batch = cohortBatch();
    await queue.accept(batch, { rawBody: '{"not":"a batch"}', receivedAtMs: 1 });
    let handled = 0;
    queue.consume(async () => {
      handled += 1;
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(handled).toBe(0);
    expect(setAside).toEqual([{ messageId: batch.messageId, reason: expect.stringMatching(/cohort_id/) }]);
    expect(db.prepare('SELECT count(*) FROM queue_inbox').pluck().get()).toBe(0);
  });

  it('picks up a batch another process re-queued (the dlq CLI), bypassing dedupe', async () => {
    const { queue } = openQueue();
    const batch = cohortBatch();
    await queue.accept(batch);
    const delivered: string[] = [];
    queue.consume(async (got) => {
      delivered.push(got.messageId);
    });
    await waitFor(() => delivered.length === 1);
    const cli = openQueue();
    await cli.queue.requeue(batch);
    await waitFor(() => delivered.length === 2);
    expect(delivered).toEqual([batch.messageId, batch.messageId]);
  });
});

describe('sqlite queue + sqlite store: exactly-once apply', () => {
  it('removes the inbox row in the store transaction, so a kill after the commit never applies again', async () => {
    const first = openQueue();
    const store = applyingWithInboxRemoval(createSqliteStore(first.db), first.queue);
    await first.queue.accept(cohortBatch({ users: [{ userId: 'a' }] }));
    let applied = false;
    first.queue.consume(async (batch) => {
      await store.applyBatch(batch);
      applied = true;
      await new Promise(() => {}); // killed right after the commit, before the queue's own removal
    });
    await waitFor(() => applied);
    crash(first.db);

    const second = openQueue();
    const count = second.db.prepare('SELECT count(*) FROM queue_inbox').pluck();
    expect(count.get()).toBe(0);
    expect(await createSqliteStore(second.db).userCohorts('a')).toMatchObject([{ cohortId: 'c1' }]);
  });

  it('keeps the row when the store update fails: the removal rolls back with it', async () => {
    const { db, queue } = openQueue();
    const sqliteStore = createSqliteStore(db);
    const store = applyingWithInboxRemoval(
      {
        ...sqliteStore,
        applyBatchSync: () => {
          db.prepare("INSERT INTO cohort_cohorts VALUES ('x', 'x', 0, 'm', 0, 0)").run();
          throw new Error('disk full');
        },
      },
      queue,
    );
    await queue.accept(cohortBatch());
    const errors: string[] = [];
    queue.consume(async (batch) => {
      try {
        await store.applyBatch(batch);
      } catch (error) {
        errors.push((error as Error).message);
        await new Promise(() => {});
      }
    });
    await waitFor(() => errors.length === 1);
    expect(db.prepare('SELECT count(*) FROM queue_inbox').pluck().get()).toBe(1);
    expect(db.prepare("SELECT count(*) FROM cohort_cohorts WHERE cohort_id = 'x'").pluck().get()).toBe(0);
  });
});
