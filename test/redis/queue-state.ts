/** @module What the Redis tests read of the queue's state in Redis. */
import { Redis } from 'ioredis';
import { queueKeys } from '../../src/redis/queue-keys.ts';

/** Whether every accepted batch under `keyPrefix` was acknowledged: an empty stream, nothing pending. */
export async function redisQueueEmpty(redisUrl: string, keyPrefix: string): Promise<boolean> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return (await redis.xlen(queueKeys(keyPrefix).stream)) === 0;
  } finally {
    redis.disconnect();
  }
}
