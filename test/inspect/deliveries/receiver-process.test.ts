/**
 * A real receiver process records what it answered and applied where its queue lives, read back
 * from outside the process as another receiver's page would: the SQLite file (kept across a
 * restart) or Redis. With INSPECT=off nothing is recorded.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../../bench/receiver-process.ts';
import type { Delivery, DeliveryLog } from '../../../src/inspect/deliveries/delivery-log.ts';
import { createRedisDeliveryLog } from '../../../src/inspect/deliveries/redis.ts';
import { createSqliteDeliveryLog } from '../../../src/inspect/deliveries/sqlite.ts';
import { openSqliteDatabase } from '../../../src/sqlite/database.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../../support/services.ts';
import { createTempDir, type TempDir } from '../../support/tmp.ts';

let dir: TempDir | undefined;
let receiver: ReceiverProcess | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await receiver?.stop(5000);
  receiver = undefined;
  for (const close of closers.splice(0).reverse()) await close();
  await dir?.remove();
  dir = undefined;
});

const body = (messageId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cohort_name: 'Recorded <script>"',
    cohort_id: 'recorded',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: [{ user_id: 'u1' }, { user_id: 'u2' }],
    ...extra,
  });

async function post(text: string): Promise<number> {
  const answer = await fetch(`${receiver?.url}/webhook`, { method: 'POST', body: text });
  await answer.arrayBuffer();
  return answer.status;
}

/** The delivery once the worker's and its sink's results are attached; fails the test if that never happens. */
async function appliedDelivery(log: DeliveryLog, messageId: string): Promise<Delivery> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const delivery = await log.get(messageId);
    if (delivery?.applied?.sinks.length) return delivery;
    await sleep(50);
  }
  throw new Error(
    `${messageId} was never recorded as applied; last seen: ${JSON.stringify(await log.get(messageId))}`,
  );
}

function sqliteReader(path: string): { db: Database; log: DeliveryLog } {
  const db = openSqliteDatabase(path);
  const log = createSqliteDeliveryLog(db);
  closers.push(() => {
    db.close();
  });
  return { db, log };
}

describe('a receiver with QUEUE=sqlite', () => {
  it('records receipts and apply results in the SQLite file, and keeps them across a restart', async () => {
    dir = await createTempDir('deliveries-process');
    const env = { QUEUE: 'sqlite', SQLITE_PATH: join(dir.path, 'cohorts.db'), SINKS: 'log' };
    receiver = await startReceiverProcess({ env });
    expect(await post(body('first'))).toBe(200);
    expect(await post(body('first'))).toBe(200);
    expect(await post(body('bad', { users: 'nobody' }))).toBe(422);
    const { log } = sqliteReader(join(dir.path, 'cohorts.inbox.db'));
    const first = await appliedDelivery(log, 'first');
    expect(first).toMatchObject({
      outcome: 'accepted',
      cohortName: 'Recorded <script>"',
      users: 2,
      duplicates: 1,
      applied: { entered: 2, left: 0, unchanged: 0, sinks: [{ name: 'log', delivered: 2, failed: 0 }] },
    });
    expect(first.receiver).toBe(first.applied?.worker);
    expect((await log.list({ limit: 10, outcome: 'rejected' })).deliveries).toMatchObject([
      { status: 422, reason: 'invalid_payload' },
    ]);

    expect(await receiver.stop(10_000)).toBe(0);
    receiver = await startReceiverProcess({ env });
    expect(await post(body('second', { in_cohort: false, computed_time: '1700000100' }))).toBe(200);
    const second = await appliedDelivery(log, 'second');
    expect(second.applied).toMatchObject({ entered: 0, left: 2 });
    expect(second.receiver).not.toBe(first.receiver);
    const { deliveries } = await log.list({ limit: 10 });
    expect(deliveries.map((row) => [row.messageId, row.outcome])).toEqual([
      ['second', 'accepted'],
      [null, 'rejected'],
      ['first', 'duplicate'],
      ['first', 'accepted'],
    ]);
  });

  it('records nothing with INSPECT=off', async () => {
    dir = await createTempDir('deliveries-process');
    const env = { QUEUE: 'sqlite', SQLITE_PATH: join(dir.path, 'cohorts.db'), INSPECT: 'off' };
    receiver = await startReceiverProcess({ env });
    expect(await post(body('unrecorded'))).toBe(200);
    // Applied (the members are listed) and stopped: anything it would record has been written by now.
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const members = await (await fetch(`${receiver.url}/cohorts/recorded/members`)).json();
      if ((members as { members: unknown[] }).members.length === 2) break;
      await sleep(50);
    }
    expect(await receiver.stop(10_000)).toBe(0);
    // Where it would record: the inbox's file, beside the store's.
    const db = openSqliteDatabase(join(dir.path, 'cohorts.inbox.db'));
    closers.push(() => {
      db.close();
    });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'queue_inbox'").all()).toHaveLength(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'inspect%'").all()).toEqual([]);
  });
});

describeWithService(await probeRedis(), 'a receiver with QUEUE=redis', () => {
  it('records receipts and apply results in Redis, where another process reads them', async () => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    closers.push(() => deleteKeysUnder(redisUrl, keyPrefix));
    dir = await createTempDir('deliveries-process');
    receiver = await startReceiverProcess({
      env: {
        QUEUE: 'redis',
        SINKS: 'log',
        REDIS_URL: redisUrl,
        KEY_PREFIX: keyPrefix,
        SQLITE_PATH: join(dir.path, 'cohorts.db'),
      },
    });
    const redis: Redis = new Redis(redisUrl, { lazyConnect: true });
    closers.push(() => redis.disconnect());
    await redis.connect();
    const log = createRedisDeliveryLog(redis, { keyPrefix });
    expect(await post(body('over-redis'))).toBe(200);
    expect(await appliedDelivery(log, 'over-redis')).toMatchObject({
      outcome: 'accepted',
      applied: { entered: 2, sinks: [{ name: 'log', delivered: 2, failed: 0 }] },
    });
  });
});
