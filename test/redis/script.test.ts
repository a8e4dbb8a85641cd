import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { readOnlyScript, redisScript, runScript } from '../../src/runtime/redis-script.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

/** A script Redis has never cached: its text is unique to this run. */
const fresh = (lua: string) => `-- ${randomBytes(8).toString('hex')}\n${lua}`;

describeWithService(await probeRedis(), 'Redis scripts', () => {
  const keyPrefix = randomKeyPrefix('test-script');
  let redis: Redis;
  beforeAll(async () => {
    redis = connectRedis(redisUrl);
    await waitUntilReady(redis, 2000);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('sends the whole script when Redis does not know it, then runs it by SHA, also after a SCRIPT FLUSH', async () => {
    const echo = redisScript({ name: 'echo', numberOfKeys: 1, lua: fresh('return { KEYS[1], ARGV[1] }') });
    const sha = createHash('sha1').update(echo.lua).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await runScript(redis, echo, [`${keyPrefix}:k`, 'v'])).toEqual([`${keyPrefix}:k`, 'v']);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await runScript(redis, echo, [`${keyPrefix}:k`, 'w'])).toEqual([`${keyPrefix}:k`, 'w']);
    // A restarted Redis has forgotten every script: the next run sends it whole again.
    await redis.script('FLUSH');
    expect(await runScript(redis, echo, [`${keyPrefix}:k`, 'x'])).toEqual([`${keyPrefix}:k`, 'x']);
  });

  it('refuses a write from a read-only script (no-writes), whether Redis knew it or not', async () => {
    const key = `${keyPrefix}:written`;
    const writes = readOnlyScript('writes', 1, fresh("redis.call('SET', KEYS[1], '1') return 1"));
    await expect(runScript(redis, writes, [key])).rejects.toThrow(/read-only|no-writes|not allowed/i);
    await redis.script('LOAD', writes.lua);
    await expect(runScript(redis, writes, [key])).rejects.toThrow(/read-only|no-writes|not allowed/i);
    expect(await redis.exists(key)).toBe(0);
    const reads = readOnlyScript('reads', 1, fresh("return redis.call('EXISTS', KEYS[1])"));
    expect(await runScript(redis, reads, [key])).toBe(0);
  });

  it('takes more arguments than a JavaScript call can spread (a 100,000-user batch)', async () => {
    const count = redisScript({ name: 'count', numberOfKeys: 1, lua: fresh('return #ARGV') });
    const args = Array.from({ length: 200_000 }, (_, i) => String(i));
    expect(await runScript(redis, count, [`${keyPrefix}:k`, ...args])).toBe(200_000);
  });
});
