import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keptBody, type Letter, letterBytes } from '../../src/dead-letters/letters.ts';
import { createMemoryDeadLetters } from '../../src/dead-letters/memory.ts';
import { createRedisDeadLetters } from '../../src/dead-letters/redis.ts';
import { createSqliteDeadLetters } from '../../src/dead-letters/sqlite.ts';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
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

describe('SQLite dead letters in a file made before bodies kept their encoding', () => {
  it('gains the column, reads the old rows as text and keeps new bytes exactly', async () => {
    const dir = await createTempDir('letters-old');
    const db = openSqliteDatabase(join(dir.path, 'old.db'));
    try {
      db.exec(`CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, reason TEXT NOT NULL,
        body TEXT NOT NULL, truncated INTEGER NOT NULL, message_id TEXT, created_at INTEGER NOT NULL)`);
      db.prepare(
        "INSERT INTO dead_letters (kind, reason, body, truncated, message_id, created_at) VALUES ('failed', 'old', '{\"ü\":1}', 0, NULL, 1)",
      ).run();
      const letters = createSqliteDeadLetters(db, { maxPerKind: 10 });
      // A second process opening the same file finds the column already there.
      createSqliteDeadLetters(db, { maxPerKind: 10 });
      const sent = Buffer.from([0xff, 0x00, 0xfe]);
      await letters.add({ kind: 'rejected', reason: 'new', ...keptBody(sent) });
      const [added, old] = await letters.list();
      expect(old).toMatchObject({ reason: 'old', body: '{"ü":1}', encoding: 'utf8' });
      expect(letterBytes(added as Letter).equals(sent)).toBe(true);
    } finally {
      db.close();
      await dir.remove();
    }
  });
});
