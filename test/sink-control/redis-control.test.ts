/**
 * The ControlStore contract over Redis (control-contract.ts), then what only Redis has: several
 * processes (connections) sharing one store at once, and the state outliving a connection.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { MembershipChange } from '../../src/core/store/store.ts';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import type { ControlStore } from '../../src/sink-control/control-store.ts';
import { createRedisControl, sinkControlKeys } from '../../src/sink-control/redis-control.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { change, controlStoreContract, hold, users } from './control-contract.ts';

describeWithService(await probeRedis(), 'Redis control store', () => {
  // Every connection and prefix a test opened, closed and cleaned after it.
  let connections: Redis[] = [];
  let prefixes: string[] = [];

  const connect = async (): Promise<Redis> => {
    const redis = connectRedis(redisUrl, { commandTimeoutMs: 5000 });
    connections.push(redis);
    if (!(await waitUntilReady(redis, 2000))) throw new Error(`Redis at ${redisUrl} is not ready`);
    return redis;
  };
  const freshPrefix = () => {
    const keyPrefix = randomKeyPrefix('test-sinkctl');
    prefixes.push(keyPrefix);
    return keyPrefix;
  };
  /** A store on a connection of its own: what one more process would have. */
  const openProcess = async (keyPrefix: string): Promise<ControlStore> =>
    createRedisControl(await connect(), keyPrefix);

  afterEach(async () => {
    for (const redis of connections) redis.disconnect();
    for (const keyPrefix of prefixes) await deleteKeysUnder(redisUrl, keyPrefix);
    connections = [];
    prefixes = [];
  });

  controlStoreContract('Redis', async () => openProcess(freshPrefix()));

  describe('shared by several processes', () => {
    it('loses and duplicates no change while two processes admit and a third holds, pauses and releases', async () => {
      const keyPrefix = freshPrefix();
      const [first, second, operator] = await Promise.all([
        openProcess(keyPrefix),
        openProcess(keyPrefix),
        openProcess(keyPrefix),
      ]);
      const batches = 60;
      const perBatch = 10;
      const progress = { a: 0, b: 0 };
      /** One process admitting its batches one after the other, as a worker does. */
      const admitAll = async (store: ControlStore, name: 'a' | 'b') => {
        const admitted: MembershipChange[][] = [];
        const sent: MembershipChange[][] = [];
        try {
          for (let batch = 0; batch < batches; batch += 1) {
            const changes = Array.from({ length: perBatch }, (_, index) =>
              change(`${name}-${batch}-${index}`, index % 2 === 0 ? 'c1' : 'c2'),
            );
            admitted.push(changes);
            sent.push(await store.admit('crm', changes));
            progress[name] = batch + 1;
          }
        } finally {
          // Failed or not, the operator waiting on this process stops waiting.
          progress[name] = batches;
        }
        return { admitted, sent };
      };
      /** Waits until both processes have admitted `count` batches (they go on meanwhile). */
      const untilBoth = async (count: number) => {
        while (Math.min(progress.a, progress.b) < count) await new Promise(setImmediate);
      };
      const operate = async () => {
        await untilBoth(5);
        await operator.hold(hold('c1'));
        await untilBoth(10);
        await operator.pause('crm', { at: 1, by: 'ops' });
        await untilBoth(15);
        await operator.release('c1');
        await operator.hold(hold('c1'));
        await untilBoth(20);
        await operator.resume('crm');
        await operator.release('c1');
        await operator.hold(hold('c1'));
      };
      const [a, b] = await Promise.all([admitAll(first, 'a'), admitAll(second, 'b'), operate()]);
      // What the last hold caught joins the waiting changes too.
      await operator.release('c1');

      const waiting = await operator.waiting('crm', batches * perBatch * 2 + 1);
      const sentNow = [...a.sent.flat(), ...b.sent.flat()];
      const everyone = [...a.admitted.flat(), ...b.admitted.flat()];
      // Each change exactly once: sent now, or waiting.
      expect([...users(sentNow), ...users(waiting.map((one) => one.change))].sort()).toEqual(
        users(everyone).sort(),
      );
      expect(await operator.backlogs(['crm'])).toEqual([{ sink: 'crm', waiting: waiting.length, held: 0 }]);
      // The pause parked something, and the hold caught something before it.
      expect(waiting.length).toBeGreaterThan(0);
      expect(sentNow.length).toBeGreaterThan(0);

      // In seq order, and each process's changes in the order it admitted them, released ones included.
      const seqs = waiting.map((one) => one.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const { admitted } of [a, b]) {
        const order = new Map(users(admitted.flat()).map((user, index) => [user, index]));
        const mine = users(waiting.map((one) => one.change)).filter((user) => order.has(user));
        const ranks = mine.map((user) => order.get(user) as number);
        expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
      }
      // No change overtakes a waiting one: once a process saw a c2 change parked, nothing went now.
      for (const { admitted, sent } of [a, b]) {
        const firstParked = admitted.findIndex((changes, index) =>
          changes.some((one) => one.cohortId === 'c2' && !(sent[index] as MembershipChange[]).includes(one)),
        );
        expect(firstParked).toBeGreaterThanOrEqual(0);
        expect(sent.slice(firstParked + 1).flat()).toEqual([]);
      }
    });

    it('parks everything a concurrent admit brings once another process paused, and holds what it must', async () => {
      const keyPrefix = freshPrefix();
      const [worker, receiver] = await Promise.all([openProcess(keyPrefix), openProcess(keyPrefix)]);
      await receiver.pause('crm', { at: 5, by: 'api' });
      await receiver.hold(hold('c1'));
      const admitted = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          worker.admit('crm', [change(`u${index}`, 'c1'), change(`v${index}`, 'c2')]),
        ),
      );
      expect(admitted.flat()).toEqual([]);
      expect(await receiver.backlogs(['crm'])).toEqual([{ sink: 'crm', waiting: 20, held: 20 }]);
      expect(await receiver.discard('c1')).toBe(20);
      expect(await worker.backlogs(['crm'])).toEqual([{ sink: 'crm', waiting: 20, held: 0 }]);
    });

    it('keeps pauses, holds, backfills and waiting changes for another process, after the first is gone', async () => {
      const keyPrefix = freshPrefix();
      const redis = await connect();
      const store = createRedisControl(redis, keyPrefix);
      const backfill = {
        sink: 'mail',
        cohorts: ['c2'],
        cursor: 'u9',
        sent: 9,
        total: 20,
        started: { at: 3, by: 'ops' },
      };
      await store.pause('crm', { at: 1, by: 'ops' });
      await store.hold(hold('c1'));
      await store.setBackfill('mail', backfill);
      await store.admit('crm', [change('a', 'c2'), change('b', 'c1', 'left'), change('c', 'c2')]);
      expect(await store.lease('crm', 'p1', 60_000)).toBe(true);
      redis.disconnect();

      const again = await openProcess(keyPrefix);
      expect(await again.state()).toEqual({
        paused: { crm: { at: 1, by: 'ops' } },
        holds: { c1: hold('c1') },
        backfills: { mail: backfill },
      });
      expect(users((await again.waiting('crm', 10)).map((one) => one.change))).toEqual(['a', 'c']);
      expect(await again.backlogs(['crm', 'mail'])).toEqual([
        { sink: 'crm', waiting: 2, held: 1 },
        { sink: 'mail', waiting: 0, held: 0 },
      ]);
      // Another process sees the pause: its changes wait too.
      expect(await again.admit('crm', [change('d', 'c2')])).toEqual([]);
      expect(await again.lease('crm', 'p2', 60_000)).toBe(false);
      expect(await again.release('c1')).toBe(1);
      expect(users((await again.waiting('crm', 10)).map((one) => one.change))).toEqual(['a', 'b', 'c', 'd']);
    });
  });

  describe('keys', () => {
    it('keeps everything under <KEY_PREFIX>:sinkctl:, and leaves nothing of a released hold behind', async () => {
      const keyPrefix = freshPrefix();
      const redis = await connect();
      const store = createRedisControl(redis, keyPrefix);
      const keys = sinkControlKeys(keyPrefix);
      await store.hold(hold('c1'));
      await store.pause('crm', { at: 1, by: 't' });
      await store.admit('crm', [change('a', 'c1'), change('b', 'c2')]);
      await store.admit('mail', [change('a', 'c1')]);
      await store.countExits('c1', { exits: 1, membersBefore: 2, now: 3, windowMs: 4 });
      await store.lease('crm', 'p1', 60_000);
      expect((await redis.keys(`${keyPrefix}:*`)).sort()).toEqual(
        [
          keys.holds,
          keys.paused,
          keys.seq,
          keys.heldCounts,
          keys.waiting('crm'),
          keys.held('crm', 'c1'),
          keys.held('mail', 'c1'),
          keys.heldSinks('c1'),
          keys.window('c1'),
          keys.lease('crm'),
        ].sort(),
      );
      for (const key of await redis.keys(`${keyPrefix}:*`))
        expect(key.startsWith(`${keyPrefix}:sinkctl:`)).toBe(true);

      expect(await store.release('c1')).toBe(2);
      const left = await redis.keys(`${keyPrefix}:*`);
      expect(left).not.toContain(keys.held('crm', 'c1'));
      expect(left).not.toContain(keys.heldSinks('c1'));
      expect(left).not.toContain(keys.heldCounts);
      expect(left).toContain(keys.waiting('mail'));
    });

    it('tells sinks and cohorts apart whatever they hold, `:` included', async () => {
      const store = await openProcess(freshPrefix());
      await store.hold(hold('c'));
      await store.hold(hold('b:c'));
      // Spelled naively, (sink a:b, cohort c) and (sink a, cohort b:c) would share a key.
      await store.admit('a:b', [change('x', 'c')]);
      await store.admit('a', [change('y', 'b:c'), change('z', 'b:c')]);
      expect(await store.backlogs(['a:b', 'a'])).toEqual([
        { sink: 'a:b', waiting: 0, held: 1 },
        { sink: 'a', waiting: 0, held: 2 },
      ]);
      expect(await store.release('c')).toBe(1);
      expect(users((await store.waiting('a:b', 10)).map((one) => one.change))).toEqual(['x']);
      expect(await store.waiting('a', 10)).toEqual([]);
      expect(await store.discard('b:c')).toBe(2);
    });

    it('keeps large epoch ms and fractional exits exact in a window, and returns nothing for limit 0', async () => {
      const store = await openProcess(freshPrefix());
      const now = 8_640_000_000_000_000; // the largest Date, 16 digits
      expect(
        await store.countExits('c1', { exits: 3, membersBefore: 123_456_789_012, now, windowMs: 10 }),
      ).toEqual({
        openedAt: now,
        membersAtOpen: 123_456_789_012,
        exits: 3,
      });
      expect(
        await store.countExits('c1', { exits: 0.5, membersBefore: 1, now: now + 5, windowMs: 10 }),
      ).toEqual({
        openedAt: now,
        membersAtOpen: 123_456_789_012,
        exits: 3.5,
      });
      await store.pause('crm', { at: 1, by: 't' });
      await store.admit('crm', [change('a')]);
      expect(await store.waiting('crm', 0)).toEqual([]);
      await store.remove('crm', []);
      expect(await store.admit('crm', [])).toEqual([]);
      expect(await store.backlogs([])).toEqual([]);
    });
  });
});
