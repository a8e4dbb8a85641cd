import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { connectBlockingRedis, connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';

describeWithService(await probeRedis(), 'Redis connections', () => {
  const keyPrefix = randomKeyPrefix('test-connection');
  const opened: Redis[] = [];
  afterEach(async () => {
    for (const redis of opened.splice(0)) redis.disconnect();
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('fails a request-path command at once while Redis cannot be reached', async () => {
    const redis = connectRedis('redis://127.0.0.1:1');
    opened.push(redis);
    expect(await waitUntilReady(redis, 50)).toBe(false);
    await expect(redis.get(`${keyPrefix}:k`)).rejects.toThrow();
  });

  it('gives a blocking connection that waits for the server, on the same database as the one it copies', async () => {
    const database = new URL(redisUrl);
    database.pathname = '/3';
    const request = connectRedis(database.href);
    opened.push(request);
    await waitUntilReady(request, 2000);
    await request.set(`${keyPrefix}:k`, 'in db 3');
    const blocking = connectBlockingRedis(request);
    opened.push(blocking);
    // Sent before the connection is up: queued until it is, where the request path would refuse it.
    expect(blocking.status).not.toBe('ready');
    expect(await blocking.get(`${keyPrefix}:k`)).toBe('in db 3');
    await blocking.del(`${keyPrefix}:k`);
  });
});
