/** kill -9 of a receiver while requests stream in, QUEUE=redis: every batch that got its 200 is applied after a restart. */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { queueKeys } from '../../src/redis/queue-keys.ts';
import { useKillHarness } from '../durability/kill-harness.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

const { start, streamThenKill, expectAllApplied } = useKillHarness();

describeWithService(await probeRedis(), 'kill -9 of a receiver, QUEUE=redis', () => {
  let keyPrefix: string;
  beforeEach(() => {
    keyPrefix = randomKeyPrefix('test-kill');
  });
  afterEach(async () => {
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('applies after a restart every batch that got a 200 before the kill', async () => {
    // REDIS_CLAIM_IDLE_MS short: the new process claims what the dead one had read but not finished.
    const env = { QUEUE: 'redis', REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, REDIS_CLAIM_IDLE_MS: '500' };
    const accepted = await streamThenKill(await start(env), 40);
    const admin = new Redis(redisUrl);
    const backlog = await admin.xlen(queueKeys(keyPrefix).stream);
    admin.disconnect();
    expect(backlog).toBeGreaterThan(0);

    const restarted = await start(env);
    await expectAllApplied(restarted.url, accepted);
  });
});
