/**
 * Read-your-writes on the Redis queue beyond the contract: another process's connection (a worker
 * beside receivers) sees where a message stands, and a dedupe mark written before marks held their
 * stream entry's id never reads as applied while batches wait.
 */
import { afterEach, expect, it } from 'vitest';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { createRedisQueue } from '../../src/redis/queue.ts';
import { queueKeys } from '../../src/redis/queue-keys.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { testBatch } from './contract.ts';

describeWithService(await probeRedis(), 'Redis queue progress', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A queue on a connection of its own, as another process would have. */
  const openQueue = async (keyPrefix: string) => {
    const redis = connectRedis(redisUrl);
    await waitUntilReady(redis, 2000);
    const queue = createRedisQueue({
      redis,
      keyPrefix,
      dedupeTtlSeconds: 3600,
      maxUsers: 1_000_000,
      blockMs: 100,
    });
    cleanups.push(async () => {
      await queue.close();
      redis.disconnect();
    });
    return { queue, redis };
  };

  it('answers a worker on another connection what a receiver accepted: waiting, then done once applied', async () => {
    const keyPrefix = randomKeyPrefix('test-progress');
    cleanups.push(() => deleteKeysUnder(redisUrl, keyPrefix));
    const receiver = await openQueue(keyPrefix);
    const worker = await openQueue(keyPrefix);
    const batch = testBatch();
    expect(await receiver.queue.accept(batch)).toBe('accepted');
    expect(await worker.queue.progress?.(batch.messageId)).toBe('waiting');
    worker.queue.consume(async () => {});
    expect(await worker.queue.drain(10_000)).toBe(true);
    expect(await worker.queue.progress?.(batch.messageId)).toBe('done');
    expect(await receiver.queue.progress?.(batch.messageId)).toBe('done');
  });

  it('reads a mark without an entry id as waiting while batches wait, done once the stream is empty', async () => {
    const keyPrefix = randomKeyPrefix('test-progress');
    cleanups.push(() => deleteKeysUnder(redisUrl, keyPrefix));
    const { queue, redis } = await openQueue(keyPrefix);
    const keys = queueKeys(keyPrefix);
    await redis.set(keys.seen('old-message'), '1', 'EX', 3600);
    expect(await queue.accept(testBatch())).toBe('accepted');
    expect(await queue.progress?.('old-message')).toBe('waiting');
    queue.consume(async () => {});
    expect(await queue.drain(10_000)).toBe(true);
    expect(await queue.progress?.('old-message')).toBe('done');
  });
});
