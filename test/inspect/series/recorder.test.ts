/**
 * The recorder on a real receiver (QUEUE=sqlite on a temp dir, started as `npm start` starts it):
 * webhooks and applies become a minute's counts in the SQLite file, read back through another
 * handle as another process would, and still there after a restart. Then the sampled gauges, on
 * real memory parts.
 */
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type RunningReceiver, startReceiver } from '../../../src/compose.ts';
import { createReceiverEvents } from '../../../src/core/events.ts';
import { createMemoryQueue } from '../../../src/core/queue/memory.ts';
import { createMemoryStore } from '../../../src/core/store/memory.ts';
import { createMemorySeriesStore } from '../../../src/inspect/series/memory.ts';
import { ackBucketNames } from '../../../src/inspect/series/percentile.ts';
import { startSeriesRecorder } from '../../../src/inspect/series/recorder.ts';
import {
  type MinutePoint,
  minuteMs,
  minuteOf,
  type SeriesStore,
} from '../../../src/inspect/series/series.ts';
import { createSqliteSeriesStore } from '../../../src/inspect/series/sqlite.ts';
import { openSqliteDatabase } from '../../../src/sqlite/database.ts';
import { createTempDir, type TempDir } from '../../support/tmp.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A cohort id with the characters a series name must survive. */
const cohortId = `c:1 "it's"`;

const body = (messageId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cohort_name: 'Recorded',
    cohort_id: cohortId,
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: [{ user_id: 'u1' }, { user_id: 'u2' }, { user_id: 'u3' }],
    ...extra,
  });

/** Every series summed over the minutes: the test may straddle a minute boundary. */
function totals(points: readonly MinutePoint[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const point of points) {
    for (const [name, value] of Object.entries(point.values)) sums[name] = (sums[name] ?? 0) + value;
  }
  return sums;
}

const counted = [
  'received',
  'accepted',
  'duplicate',
  'rejected',
  'unavailable',
  'applied_users',
  'applied_batches',
  'entered',
  'left',
  'updated',
  `cohort:${cohortId}:entered`,
  `cohort:${cohortId}:left`,
  'sink:log:delivered',
  'sink:log:failed',
  ...ackBucketNames,
];

describe('the series recorder in a receiver with QUEUE=sqlite', () => {
  async function start(dir: TempDir): Promise<RunningReceiver> {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      QUEUE: 'sqlite',
      SQLITE_PATH: join(dir.path, 'cohorts.db'),
      SINKS: 'log',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
    const receiver = await startReceiver(config, pino({ level: 'silent' }));
    await receiver.ready;
    return receiver;
  }

  /** A store on its own handle of the inbox file: another process's view of the same rows. */
  function reader(dir: TempDir): SeriesStore {
    const db: Database = openSqliteDatabase(join(dir.path, 'cohorts.inbox.db'));
    const series = createSqliteSeriesStore(db);
    cleanups.push(async () => {
      await series.close();
      db.close();
    });
    return series;
  }

  it('counts webhooks, applies and sink results by minute, and keeps them across a restart', async () => {
    const dir = await createTempDir('series-recorder');
    cleanups.push(() => dir.remove());
    // Before the start: the receiver samples its gauges as it starts.
    const from = minuteOf(Date.now());
    let receiver = await start(dir);
    cleanups.push(() => receiver.shutdown());
    const post = async (text: string) => {
      const answer = await fetch(`${receiver.url}/webhook`, { method: 'POST', body: text });
      await answer.arrayBuffer();
      return answer.status;
    };

    expect(await post(body('m-1'))).toBe(200);
    expect(await post(body('m-1'))).toBe(200);
    expect(await post('{"cohort_id": ')).toBe(400);
    expect(
      await post(body('m-2', { in_cohort: false, computed_time: '1700000100', users: [{ user_id: 'u1' }] })),
    ).toBe(200);

    const series = reader(dir);
    const read = async () => totals(await series.read(counted, from, minuteOf(Date.now()) + minuteMs));
    // Written a second or so after the events (the store's flush timer), the sink's results last.
    await expect
      .poll(
        async () => {
          const now = await read();
          return [now.applied_batches, now['sink:log:delivered']];
        },
        { timeout: 15_000, interval: 100 },
      )
      .toEqual([2, 4]);
    const before = await read();
    expect(before).toMatchObject({
      received: 4,
      accepted: 2,
      duplicate: 1,
      rejected: 1,
      unavailable: 0,
      applied_users: 4,
      applied_batches: 2,
      entered: 3,
      left: 1,
      updated: 0,
      [`cohort:${cohortId}:entered`]: 3,
      [`cohort:${cohortId}:left`]: 1,
      'sink:log:delivered': 4,
      'sink:log:failed': 0,
      // The last bucket counts every ack.
      ack_ms_le_30000: 4,
    });
    // Sampled once the receiver started: the queue and the sinks had nothing waiting.
    const sampled = async () =>
      totals(
        await series.read(['backlog_batches', 'sink:log:waiting'], from, minuteOf(Date.now()) + minuteMs),
      );
    await expect
      .poll(sampled, { timeout: 15_000, interval: 100 })
      .toEqual({ backlog_batches: 0, 'sink:log:waiting': 0 });

    await receiver.shutdown();
    receiver = await start(dir);
    // The restarted process reads and adds to the same rows.
    expect(await read()).toEqual(before);
    expect(
      await reader(dir)
        .read(counted, from, minuteOf(Date.now()) + minuteMs)
        .then(totals),
    ).toEqual(before);
    expect(await post(body('m-1'))).toBe(200);
    await expect.poll(async () => (await read()).duplicate, { timeout: 15_000, interval: 100 }).toBe(2);
    expect((await read()).received).toBe(5);
  });
});

describe('the series recorder sampling', () => {
  it('samples the backlog, its oldest batch and the members per cohort, as gauges of the minute', async () => {
    const events = createReceiverEvents();
    const series = createMemorySeriesStore();
    const queue = createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: 1000 });
    const store = createMemoryStore();
    await queue.accept({ messageId: 'waiting', users: 2, body: '{}', receivedAt: Date.now() });
    await store.applyBatch({
      cohortId,
      cohortName: 'Recorded',
      inCohort: true,
      computedTime: 100,
      messageId: 'm',
      users: [{ userId: 'u1' }, { userId: 'u2' }],
    });
    const recorder = startSeriesRecorder({ events, series, queue, store, logger: pino({ level: 'silent' }) });
    cleanups.push(() => recorder.close());
    const from = minuteOf(Date.now());
    await recorder.sample();
    const names = ['backlog_batches', 'backlog_users', 'oldest_waiting_ms', `cohort:${cohortId}:members`];
    const sampled = totals(await series.read(names, from, minuteOf(Date.now()) + minuteMs));
    expect(sampled).toMatchObject({
      backlog_batches: 1,
      backlog_users: 2,
      [`cohort:${cohortId}:members`]: 2,
    });
    expect(sampled.oldest_waiting_ms).toBeGreaterThanOrEqual(0);
  });

  it('logs a failing source at most once a minute, never throws, and still samples the others', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const events = createReceiverEvents();
    const series = createMemorySeriesStore();
    const store = createMemoryStore();
    await store.applyBatch({
      cohortId: 'c',
      cohortName: 'C',
      inCohort: true,
      computedTime: 100,
      messageId: 'm',
      users: [{ userId: 'u1' }],
    });
    // The queue's backend gone: its stats reject.
    const queue = { stats: () => Promise.reject(new Error('queue backend away')) };
    const recorder = startSeriesRecorder({ events, series, queue, store, logger });
    cleanups.push(() => recorder.close());
    const from = minuteOf(Date.now());
    await recorder.sample();
    await recorder.sample();
    await recorder.sample();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ source: 'queue', error: 'queue backend away' });
    const sampled = totals(
      await series.read(['backlog_batches', 'cohort:c:members'], from, minuteOf(Date.now()) + minuteMs),
    );
    expect(sampled).toEqual({ 'cohort:c:members': 1 });
  });

  it('stops listening on close', async () => {
    const events = createReceiverEvents();
    const series = createMemorySeriesStore();
    const recorder = startSeriesRecorder({
      events,
      series,
      queue: createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: 1000 }),
      logger: pino({ level: 'silent' }),
    });
    const from = minuteOf(Date.now());
    const webhook = {
      outcome: 'accepted',
      status: 200,
      messageId: 'm',
      receivedAt: Date.now(),
      ackMs: 2,
    } as const;
    events.emit('webhook', webhook);
    recorder.close();
    events.emit('webhook', webhook);
    expect(events.listenerCount('webhook')).toBe(0);
    const read = totals(
      await series.read(['received', 'accepted', 'ack_ms_le_5'], from, minuteOf(Date.now()) + minuteMs),
    );
    expect(read).toEqual({ received: 1, accepted: 1, ack_ms_le_5: 1 });
  });
});
