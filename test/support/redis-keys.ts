/** @module A random KEY_PREFIX per test, and the SCAN + DEL that removes every key under it after. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A KEY_PREFIX no other test (or run) uses. */
export const randomKeyPrefix = (label = 'test') => `${label}-${randomBytes(6).toString('hex')}`;

/** Deletes every key under `keyPrefix:` on the Redis at `url`. */
export async function deleteKeysUnder(url: string, keyPrefix: string): Promise<void> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}
