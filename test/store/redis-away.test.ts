/**
 * The Redis store tells Redis being away from Redis refusing a command: while its own redis-server
 * is stopped, applies and reads fail with a StoreUnavailableError (the worker waits, the read API
 * answers 503); a command Redis refuses on a live connection is a plain Error (retried, then a
 * dead letter); once Redis is back, the store works again by itself.
 */
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { storeKeys } from '../../src/redis/store-keys.ts';
import { startPrivateRedis } from '../faults/redis-server.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { createTempDir } from '../support/tmp.ts';

it('fails with StoreUnavailableError while Redis is stopped, a plain Error when it refuses, and recovers', async () => {
  const dir = await createTempDir('redis-away');
  const redis = await startPrivateRedis(dir.path);
  const store = createRedisStore({ url: redis.url, keyPrefix: 'away', connectTimeoutMs: 500 });
  try {
    await store.applyBatch(cohortBatch());

    await redis.stop();
    for (const operation of [() => store.applyBatch(cohortBatch()), () => store.listCohorts()]) {
      const error = await operation().catch((caught) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(/^Redis store at redis:\/\/127\.0\.0\.1:\d+ could not/);
    }

    await redis.start();
    await expect
      .poll(
        () =>
          store.check().then(
            () => 'ready',
            () => 'down',
          ),
        { timeout: 10_000 },
      )
      .toBe('ready');
    expect(await store.listCohorts()).toHaveLength(1);

    // A key of the wrong type: Redis answers, and refuses the script (WRONGTYPE).
    const admin = new Redis(redis.url);
    await admin.set(storeKeys('away').registers('broken'), 'not a hash');
    admin.disconnect();
    const refused = await store.applyBatch(cohortBatch({ cohortId: 'broken' })).catch((caught) => caught);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(StoreUnavailableError);
    expect((refused as Error).message).toMatch(/WRONGTYPE/);
  } finally {
    await store.close();
    await redis.stop();
    await dir.remove();
  }
});
