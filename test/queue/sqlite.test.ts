import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { type BatchApplied, createReceiverEvents } from '../../src/core/events.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { HandBackError } from '../../src/core/queue/hand-over.ts';
import type { HandOver, Queue, QueuedBatch } from '../../src/core/queue/queue.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteQueue, type SqliteQueueOptions } from '../../src/sqlite/queue.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { testBatch } from './contract.ts';

let dir: TempDir;
const open: { db: Database; queue: Queue }[] = [];

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
    maxBytes: 1024 ** 3,
    redeliveryDelayMs: 10,
    pollIntervalMs: 20,
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
const never = () => new Promise<void>(() => {});

/** The worker as compose.ts wires it, on `store`; `onChanges` stands for the sinks. */
function worker(
  store: MembershipStore,
  options: { onChanges?: () => Promise<void>; backoffMs?: number } = {},
) {
  const decode = createQueuedBodyDecoder();
  const events = createReceiverEvents();
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
  const handler = createWorker({
    apply: storeApplier(store, decode),
    decode,
    deadLetters,
    events,
    logger: pino({ level: 'silent' }),
    backoffMs: () => options.backoffMs ?? 1,
    ...(options.onChanges && { onChanges: options.onChanges }),
  });
  return { handler, events, deadLetters };
}

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
    const { db, queue } = openQueue();
    const rawBody = amplitudeBody('raw-1');
    const batch: QueuedBatch = { messageId: 'raw-1', users: 2, body: rawBody, receivedAt: 1000 };
    expect(await queue.accept(batch)).toBe('accepted');
    expect(db.prepare('SELECT format, body FROM queue_inbox').get()).toEqual({
      format: 'raw',
      body: rawBody,
    });
    const delivered: QueuedBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([batch]);
  });

  it('hands over rows until the users in hand reach inFlightUsers, whatever the rows count', async () => {
    const { queue } = openQueue({ inFlight: 100, inFlightUsers: 5 });
    const users = (n: number) => Array.from({ length: n }, (_, i) => ({ userId: `u${i}` }));
    // 2 + 2 + 3 users: the third row goes while 4 are in hand, the fourth waits for room.
    const sizes = [2, 2, 3, 1, 1];
    for (const size of sizes) await queue.accept(testBatch({ users: users(size) }));
    const inHand: { messageId: string; release: () => void }[] = [];
    queue.consume(
      (batch) =>
        new Promise<void>((release) => {
          inHand.push({ messageId: batch.messageId, release });
        }),
    );
    await waitFor(() => inHand.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inHand).toHaveLength(3);

    // One of 3 users done: 4 in hand, so one more row is read (then 5: no more).
    inHand[2]?.release();
    await waitFor(() => inHand.length === 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inHand).toHaveLength(4);
    for (const entry of inHand) entry.release();
    await waitFor(() => inHand.length === 5);
    inHand[4]?.release();
    expect(await queue.drain(5000)).toBe(true);
    expect(await queue.stats()).toMatchObject({ batches: 0 });
  });

  it('delivers after a restart what was accepted before a kill, and still knows every message_id', async () => {
    const first = openQueue();
    const batches = [testBatch(), testBatch(), testBatch()];
    for (const batch of batches) await first.queue.accept(batch);
    crash(first.db);

    const { queue } = openQueue();
    expect(await queue.accept(batches[0] as QueuedBatch)).toBe('duplicate');
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
    await first.queue.accept(testBatch());
    let started = false;
    first.queue.consume(() => {
      started = true;
      return never(); // the process dies while applying
    });
    await waitFor(() => started);
    crash(first.db);

    const { queue } = openQueue();
    const handOvers: HandOver[] = [];
    queue.consume(async (_batch, handOver) => {
      handOvers.push(handOver);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(handOvers.map((handOver) => handOver.attempt)).toEqual([2]);
  });

  it('hands the rows in hand at a kill over alone after it, so repeated kills do not set a backlog aside', async () => {
    const batches = Array.from({ length: 6 }, () => testBatch());
    const first = openQueue({ inFlight: 10 });
    for (const batch of batches) await first.queue.accept(batch);
    const killedWith = new Set<string>();
    first.queue.consume((batch) => {
      killedWith.add(batch.messageId);
      return never();
    });
    await waitFor(() => killedWith.size === 6);
    crash(first.db);

    // Four more kills in a row, each with the head row in hand: only that row's count grows.
    for (let kill = 0; kill < 4; kill += 1) {
      const next = openQueue({ inFlight: 10 });
      const inHand: string[] = [];
      next.queue.consume((batch) => {
        inHand.push(batch.messageId);
        return never();
      });
      await waitFor(() => inHand.length === 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(inHand).toEqual([batches[0]?.messageId]);
      crash(next.db);
    }

    const { queue } = openQueue({ inFlight: 10 });
    let concurrent = 0;
    let maxConcurrent = 0;
    const attempts = new Map<string, number>();
    queue.consume(async (batch, handOver) => {
      concurrent += 1;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      attempts.set(batch.messageId, handOver.attempt);
      await new Promise((resolve) => setTimeout(resolve, 5));
      concurrent -= 1;
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(maxConcurrent).toBe(1);
    expect([...attempts.values()]).toEqual([6, 2, 2, 2, 2, 2]);
  });

  it('does not count a batch the handler gave back unfinished (a stop while the store is away)', async () => {
    const first = openQueue();
    await first.queue.accept(testBatch());
    let givenBack = false;
    first.queue.consume(async () => {
      givenBack = true;
      throw new HandBackError('stopping');
    });
    await waitFor(() => givenBack);
    await first.queue.close();
    crash(first.db);

    const { queue } = openQueue();
    const handOvers: HandOver[] = [];
    queue.consume(async (_batch, handOver) => {
      handOvers.push(handOver);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(handOvers.map((handOver) => handOver.attempt)).toEqual([1]);
  });

  it('forgets a message_id after the TTL, and the purge deletes expired marks', async () => {
    let now = 1_000_000;
    const { db, queue } = openQueue({ dedupeTtlSeconds: 60, now: () => now, purgeIntervalMs: 60_000 });
    const batch = testBatch();
    await queue.accept(batch);
    await queue.accept(testBatch());
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

  it('has the worker set aside an entry it cannot read back, and removes it from the inbox', async () => {
    const { db, queue } = openQueue();
    const store = createMemoryStore();
    const { handler, events, deadLetters } = worker(store);
    let handled = 0;
    events.on('applied', () => {
      handled += 1;
    });
    const batch: QueuedBatch = { ...testBatch(), body: '{"not":"a batch"}' };
    await queue.accept(batch);
    queue.consume(handler);
    expect(await queue.drain(5000)).toBe(true);
    expect(handled).toBe(0);
    expect(await store.listCohorts()).toEqual([]);
    expect(await deadLetters.list({ kind: 'rejected' })).toMatchObject([
      {
        messageId: batch.messageId,
        reason: expect.stringMatching(/^queued, then undecodable: .*cohort_id/),
        body: '{"not":"a batch"}',
      },
    ]);
    expect(db.prepare('SELECT count(*) FROM queue_inbox').pluck().get()).toBe(0);
  });

  it('picks up a batch another process re-queued (the dlq CLI), bypassing dedupe', async () => {
    const { queue } = openQueue();
    const batch = testBatch();
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

describe('sqlite queue + sqlite store on one file', () => {
  it('applies again, changing nothing, a batch whose process was killed after the store commit', async () => {
    const first = openQueue();
    const batch = testBatch({ cohortId: 'c1', users: [{ userId: 'a' }] });
    await first.queue.accept(batch);
    let committed = false;
    // Killed right after the commit, while the sinks have the changes: before the queue's own removal.
    const dying = worker(createSqliteStore(first.db), {
      onChanges: () => {
        committed = true;
        return never();
      },
    });
    first.queue.consume(dying.handler);
    await waitFor(() => committed);
    crash(first.db);

    const second = openQueue();
    const store = createSqliteStore(second.db);
    const { handler, events } = worker(store);
    const applied: BatchApplied[] = [];
    events.on('applied', (event) => applied.push(event));
    second.queue.consume(handler);
    expect(await second.queue.drain(5000)).toBe(true);
    expect(applied).toMatchObject([{ messageId: batch.messageId, entered: 0, unchanged: 1 }]);
    expect(second.db.prepare('SELECT count(*) FROM queue_inbox').pluck().get()).toBe(0);
    expect(await store.userCohorts('a')).toMatchObject([{ cohortId: 'c1' }]);
  });

  it('keeps the row while the store update fails, with no partial write, and applies it once the store recovers', async () => {
    const { db, queue } = openQueue();
    const store = createSqliteStore(db);
    // The cohort row is written after the user's: failing it fails the apply halfway.
    db.exec(
      "CREATE TEMP TRIGGER fail_apply BEFORE INSERT ON cohort_cohorts BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const { handler, events } = worker(store, { backoffMs: 300 });
    const errors: string[] = [];
    events.on('applyFailed', ({ error }) => errors.push(error.message));
    await queue.accept(testBatch({ cohortId: 'c1', users: [{ userId: 'a' }] }));
    queue.consume(handler);
    await waitFor(() => errors.length === 1);
    expect(errors).toEqual([expect.stringMatching(/disk full/)]);
    expect(db.prepare('SELECT count(*) FROM queue_inbox').pluck().get()).toBe(1);
    expect(db.prepare('SELECT count(*) FROM cohort_memberships').pluck().get()).toBe(0);
    expect(await store.userCohorts('a')).toEqual([]);

    db.exec('DROP TRIGGER temp.fail_apply');
    expect(await queue.drain(5000)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(await store.userCohorts('a')).toMatchObject([{ cohortId: 'c1' }]);
  });
});
