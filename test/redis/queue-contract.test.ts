import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { createRedisQueue } from '../../src/redis/queue.ts';
import { describeQueueContract } from '../queue/contract.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

describeWithService(await probeRedis(), 'Redis queue', () => {
  describeQueueContract('redis', async ({ roomForOne, ...options }) => {
    const keyPrefix = randomKeyPrefix('test-queue');
    const redis = connectRedis(redisUrl);
    await waitUntilReady(redis, 2000);
    const queue = createRedisQueue({
      redis,
      keyPrefix,
      dedupeTtlSeconds: 3600,
      // A test batch has 2 users.
      maxUsers: roomForOne ? 3 : 1_000_000,
      blockMs: 100,
      ...options,
    });
    return {
      queue,
      cleanup: async () => {
        redis.disconnect();
        await deleteKeysUnder(redisUrl, keyPrefix);
      },
    };
  });
});
