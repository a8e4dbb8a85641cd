/**
 * @module What a bench run leaves behind in shared services: every Redis key under the run's own
 * KEY_PREFIX (a receiver-only run can leave gigabytes of accepted batches there). Files live in
 * the run's temporary folder and go with it.
 */
import { Redis } from 'ioredis';

/** Unlinks every key starting with `<prefix>:`; resolves with how many were removed. */
export async function removeRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let removed = 0;
    const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) removed += await redis.unlink(...keys);
    }
    return removed;
  } finally {
    redis.disconnect();
  }
}
