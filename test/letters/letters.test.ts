import { join } from 'node:path';
import { createMemoryDeadLetters } from '../../src/letters/memory.ts';
import { createRedisDeadLetters } from '../../src/letters/redis.ts';
import { createSqliteDeadLetters } from '../../src/letters/sqlite.ts';
import { connectRedis, waitUntilReady } from '../../src/queue/redis-connection.ts';
import { openSqliteDatabase } from '../../src/store/sqlite-database.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../queue/redis-test-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { createTempDir } from '../support/tmp.ts';
import { describeDeadLettersContract } from './contract.ts';

describeDeadLettersContract('memory', async ({ maxPerKind }) => ({
  letters: createMemoryDeadLetters({ maxPerKind }),
  cleanup: async () => {},
}));

describeDeadLettersContract('sqlite', async ({ maxPerKind }) => {
  const dir = await createTempDir('letters');
  const db = openSqliteDatabase(join(dir.path, 'letters.db'));
  return {
    letters: createSqliteDeadLetters(db, { maxPerKind }),
    cleanup: async () => {
      db.close();
      await dir.remove();
    },
  };
});

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
