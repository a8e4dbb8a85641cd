import { Redis } from 'ioredis';
import { expect, it, vi } from 'vitest';
import { createRedisDeliveryLog } from '../../../src/inspect/deliveries/redis.ts';
import { deliveryLogKeys } from '../../../src/inspect/deliveries/redis-keys.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../../support/services.ts';
import { applyResult, describeDeliveryLogContract, receipt } from './contract.ts';

async function connect(): Promise<Redis> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  return redis;
}

describeWithService(await probeRedis(), 'Redis DeliveryLog', () => {
  describeDeliveryLogContract('redis', async ({ maxDeliveries }) => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    const connections: Redis[] = [await connect()];
    const open = (redis: Redis) => createRedisDeliveryLog(redis, { keyPrefix, maxDeliveries });
    return {
      log: open(connections[0] as Redis),
      peer: async () => {
        const redis = await connect();
        connections.push(redis);
        return open(redis);
      },
      cleanup: async () => {
        for (const redis of connections) redis.disconnect();
        await deleteKeysUnder(redisUrl, keyPrefix);
      },
    };
  });

  it('keeps everything under <KEY_PREFIX>:inspect:, and drops the hash of an evicted delivery', async () => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    const redis = await connect();
    try {
      const log = createRedisDeliveryLog(redis, { keyPrefix, maxDeliveries: 2 });
      for (const messageId of ['a', 'b', 'c']) log.recordReceipt(receipt({ messageId }));
      log.recordApplied(applyResult('a'));
      log.recordApplied(applyResult('c'));
      await log.flush();
      const keys = deliveryLogKeys(keyPrefix);
      const stored = (await redis.keys(`${keyPrefix}:*`)).sort();
      expect(stored).toEqual([keys.deliveries, keys.message('b'), keys.message('c')].sort());
      expect(await redis.ttl(keys.message('c'))).toBe(-1);
    } finally {
      redis.disconnect();
      await deleteKeysUnder(redisUrl, keyPrefix);
    }
  });

  it('lets the results of a batch nobody received expire', async () => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    const redis = await connect();
    try {
      const log = createRedisDeliveryLog(redis, { keyPrefix });
      log.recordApplied(applyResult('orphan'));
      await log.flush();
      expect(await redis.ttl(deliveryLogKeys(keyPrefix).message('orphan'))).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await deleteKeysUnder(redisUrl, keyPrefix);
    }
  });

  it('sends one command for a burst of recordings, and none before the interval ends', async () => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    const redis = await connect();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const log = createRedisDeliveryLog(redis, { keyPrefix, flushIntervalMs: 100 });
      const sent = vi.spyOn(redis, 'sendCommand');
      for (let index = 0; index < 50; index += 1) log.recordReceipt(receipt());
      log.recordApplied(applyResult('m', { sinks: [{ name: 'log', delivered: 1, failed: 0 }] }));
      vi.advanceTimersByTime(99);
      expect(sent).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      // One script call: the whole script on the connection's first use (EVAL), by SHA after.
      expect(sent.mock.calls.map(([command]) => command.name)).toEqual(['eval']);
      vi.useRealTimers();
      await log.flush();
      sent.mockRestore();
      expect(await redis.xlen(deliveryLogKeys(keyPrefix).deliveries)).toBe(50);
    } finally {
      vi.useRealTimers();
      redis.disconnect();
      await deleteKeysUnder(redisUrl, keyPrefix);
    }
  });

  it('reports a failed write instead of throwing at the recorder', async () => {
    const keyPrefix = randomKeyPrefix('test-deliveries');
    const redis = await connect();
    const errors: Error[] = [];
    const log = createRedisDeliveryLog(redis, { keyPrefix, onError: (error) => errors.push(error) });
    redis.disconnect();
    log.recordReceipt(receipt());
    await log.flush();
    expect(errors).toHaveLength(1);
  });
});
