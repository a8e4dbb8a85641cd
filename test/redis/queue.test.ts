import type { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createQueuedBodyDecoder, toDefaultShapeBody } from '../../src/core/payload/decode-body.ts';
import { HandBackError } from '../../src/core/queue/hand-over.ts';
import type { HandOver, Queue, QueuedBatch } from '../../src/core/queue/queue.ts';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { createRedisQueue, type RedisQueueOptions } from '../../src/redis/queue.ts';
import { queueKeys } from '../../src/redis/queue-keys.ts';
import { testBatch } from '../queue/contract.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

const waitFor = async (condition: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
};
const never = () => new Promise<void>(() => {});

describeWithService(await probeRedis(), 'Redis queue', () => {
  let keyPrefix: string;
  beforeEach(() => {
    keyPrefix = randomKeyPrefix('test-queue');
  });
  const opened: { queue: Queue; redis: Redis }[] = [];
  afterEach(async () => {
    for (const { queue, redis } of opened.splice(0)) {
      await queue.close();
      redis.disconnect();
    }
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  /** A queue as one receiver or worker process would have it, on this test's prefix. */
  const openQueue = async (options: Partial<RedisQueueOptions> = {}) => {
    const redis = connectRedis(redisUrl);
    await waitUntilReady(redis, 2000);
    const queue = createRedisQueue({
      redis,
      keyPrefix,
      dedupeTtlSeconds: 3600,
      maxUsers: 1_000_000,
      redeliveryDelayMs: 10,
      blockMs: 100,
      ...options,
    });
    opened.push({ queue, redis });
    return { queue, redis };
  };
  it('keeps the raw body in the stream and hands the worker the same batch', async () => {
    const { queue, redis } = await openQueue();
    const rawBody = JSON.stringify({
      cohort_name: 'Trial',
      cohort_id: 'c1',
      in_cohort: false,
      computed_time: 1692206763,
      message_id: 'raw-1',
      users: [{ user_id: 'u1' }],
    });
    const batch: QueuedBatch = { messageId: 'raw-1', users: 1, body: rawBody, receivedAt: 5 };
    expect(await queue.accept(batch)).toBe('accepted');
    const [[, fields]] = (await redis.xrange(queueKeys(keyPrefix).stream, '-', '+')) as [[string, string[]]];
    expect(fields).toEqual([
      'message_id',
      'raw-1',
      'users',
      '1',
      'format',
      'raw',
      'received_at',
      '5',
      'body',
      rawBody,
    ]);
    const delivered: QueuedBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([batch]);
  });

  it('still delivers entries an older release wrote with one-letter field names', async () => {
    const { queue, redis } = await openQueue();
    const batch = cohortBatch();
    const keys = queueKeys(keyPrefix);
    const old = [
      'm',
      batch.messageId,
      'u',
      String(batch.users.length),
      'f',
      'batch',
      't',
      '5',
      'b',
      JSON.stringify(batch),
    ];
    await redis.xadd(keys.stream, '*', ...old);
    await redis.incrby(keys.waitingUsers, batch.users.length);
    const delivered: QueuedBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.drain(5000)).toBe(true);
    // Kept as a normalised batch then, handed over now as the same batch in Amplitude's default shape.
    expect(delivered).toEqual([
      { messageId: batch.messageId, users: 2, body: toDefaultShapeBody(batch), receivedAt: 5 },
    ]);
    expect(createQueuedBodyDecoder()(delivered[0]?.body ?? '', 5)).toEqual(batch);
    expect(await redis.get(keys.waitingUsers)).toBe('0');
  });

  it('lets another worker claim a batch whose consumer died, delivered as attempt 2', async () => {
    const dying = await openQueue({ claimIdleMs: 300 });
    const batch = testBatch();
    await dying.queue.accept(batch);
    let taken = false;
    dying.queue.consume(() => {
      taken = true;
      return never();
    });
    await waitFor(() => taken);
    await dying.queue.close(); // the process is gone: the entry stays pending under its name

    const survivor = await openQueue({ claimIdleMs: 300 });
    const deliveries: [string, HandOver][] = [];
    survivor.queue.consume(async (got, handOver) => {
      deliveries.push([got.messageId, handOver]);
    });
    await waitFor(() => deliveries.length === 1);
    expect(deliveries[0]?.[0]).toBe(batch.messageId);
    expect(deliveries[0]?.[1].attempt).toBe(2);
    expect(await survivor.queue.drain(5000)).toBe(true);
  });

  it('counts every delivery a crashing batch gets, so the worker can set it aside', async () => {
    await (await openQueue()).queue.accept(testBatch());
    for (let crash = 1; crash <= 2; crash += 1) {
      const crashing = await openQueue({ claimIdleMs: 100 });
      let taken = false;
      crashing.queue.consume(() => {
        taken = true;
        return never();
      });
      await waitFor(() => taken);
      await crashing.queue.close();
    }
    const next = await openQueue({ claimIdleMs: 100 });
    const attempts: number[] = [];
    next.queue.consume(async (_batch, handOver) => {
      attempts.push(handOver.attempt);
    });
    await waitFor(() => attempts.length === 1);
    expect(attempts).toEqual([3]);
  });

  it('does not count a batch the handler gave back unfinished (a stop while the store is away)', async () => {
    await (await openQueue()).queue.accept(testBatch());
    for (let stop = 1; stop <= 2; stop += 1) {
      const stopping = await openQueue({ claimIdleMs: 100 });
      let givenBack = false;
      stopping.queue.consume(async () => {
        givenBack = true;
        throw new HandBackError('stopping');
      });
      await waitFor(() => givenBack);
      await stopping.queue.close();
    }
    const next = await openQueue({ claimIdleMs: 100 });
    const attempts: number[] = [];
    next.queue.consume(async (_batch, handOver) => {
      attempts.push(handOver.attempt);
    });
    await waitFor(() => attempts.length === 1);
    expect(attempts).toEqual([1]);
  });

  it('keeps a batch claimed while a long apply runs, so no other worker takes it', async () => {
    const claimIdleMs = 300;
    const slow = await openQueue({ claimIdleMs });
    const other = await openQueue({ claimIdleMs });
    const delivered: string[] = [];
    const handler = (who: string) => async () => {
      delivered.push(who);
      await new Promise((resolve) => setTimeout(resolve, claimIdleMs * 4));
    };
    await slow.queue.accept(testBatch());
    slow.queue.consume(handler('slow'));
    await waitFor(() => delivered.length === 1);
    other.queue.consume(handler('other'));
    expect(await slow.queue.drain(5000)).toBe(true);
    expect(delivered).toEqual(['slow']);
  });

  it("takes over a dead consumer's batch between its own, not after all it read", async () => {
    const claimIdleMs = 300;
    const dying = await openQueue({ claimIdleMs });
    const orphan = testBatch();
    await dying.queue.accept(orphan);
    let taken = false;
    dying.queue.consume(() => {
      taken = true;
      return never();
    });
    await waitFor(() => taken);
    await dying.queue.close(); // the process is gone: its heartbeats stop

    // Ten batches the survivor reads at once (readCount 10) and applies slowly: the orphan becomes
    // claimable while they are being applied, and must not wait for the last of them.
    const survivor = await openQueue({ claimIdleMs });
    const own = Array.from({ length: 10 }, () => testBatch());
    for (const batch of own) await survivor.queue.accept(batch);
    const delivered: string[] = [];
    survivor.queue.consume(async (got) => {
      delivered.push(got.messageId);
      await new Promise((resolve) => setTimeout(resolve, claimIdleMs / 2));
    });
    await waitFor(() => delivered.length === 11, 10_000);
    expect(delivered.indexOf(orphan.messageId)).toBeLessThan(10);
  });

  it('deletes acknowledged entries, so the stream holds only the backlog', async () => {
    const { queue, redis } = await openQueue();
    for (let i = 0; i < 5; i += 1) await queue.accept(testBatch());
    queue.consume(async () => {});
    expect(await queue.drain(5000)).toBe(true);
    const keys = queueKeys(keyPrefix);
    expect(await redis.xlen(keys.stream)).toBe(0);
    expect(await redis.get(keys.waitingUsers)).toBe('0');
  });

  it('answers backend_unavailable at once, and check() says why, when Redis cannot be reached', async () => {
    const redis = connectRedis('redis://127.0.0.1:1');
    const queue = createRedisQueue({
      redis,
      keyPrefix: randomKeyPrefix('test-queue'),
      dedupeTtlSeconds: 60,
      maxUsers: 10,
    });
    opened.push({ queue, redis });
    const started = performance.now();
    await expect(queue.accept(testBatch())).rejects.toMatchObject({
      name: 'UnavailableError',
      reason: 'backend_unavailable',
    });
    expect(performance.now() - started).toBeLessThan(100);
    await expect(queue.check()).rejects.toThrow(/Redis unreachable/);
  });

  it('re-queues a batch for the workers without the dedupe check (dlq replay)', async () => {
    const { queue } = await openQueue();
    const batch = testBatch();
    await queue.accept(batch);
    await queue.requeue?.(batch);
    const delivered: string[] = [];
    queue.consume(async (got) => {
      delivered.push(got.messageId);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([batch.messageId, batch.messageId]);
    expect(await queue.accept(batch)).toBe('duplicate');
  });
});
