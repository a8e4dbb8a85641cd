/** The DeadLetters contract over Redis (test/dead-letters/contract.ts). */
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { createRedisDeadLetters } from '../../src/redis/dead-letters.ts';
import { describeDeadLettersContract } from '../dead-letters/contract.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

describeWithService(await probeRedis(), 'Redis dead letters', () => {
  describeDeadLettersContract('redis', async ({ maxPerKind }) => {
    const keyPrefix = randomKeyPrefix('test-letters');
    const redis = connectRedis(redisUrl);
    await waitUntilReady(redis, 2000);
    return {
      letters: createRedisDeadLetters(redis, { keyPrefix, maxPerKind }),
      cleanup: async () => {
        redis.disconnect();
        await deleteKeysUnder(redisUrl, keyPrefix);
      },
    };
  });
});
