/**
 * The SeriesStore contract over its three homes: process memory, the SQLite file and Redis. A peer
 * is another store on the same file or prefix, as another process would open it.
 */
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemorySeriesStore } from '../../../src/inspect/series/memory.ts';
import { createRedisSeriesStore, seriesKey } from '../../../src/inspect/series/redis.ts';
import { type Minute, minuteMs, minuteOf, type SeriesStore } from '../../../src/inspect/series/series.ts';
import { createSqliteSeriesStore } from '../../../src/inspect/series/sqlite.ts';
import { openSqliteDatabase } from '../../../src/sqlite/database.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../../support/services.ts';
import { createTempDir } from '../../support/tmp.ts';

interface StoreOptions {
  retentionMinutes?: number;
  now?: () => number;
}

interface Subject {
  store: SeriesStore;
  /** Another store on the same storage; the same store where nothing is shared (memory). */
  peer: () => Promise<SeriesStore>;
  cleanup: () => Promise<void>;
}

type Factory = (options: StoreOptions) => Promise<Subject>;

const hostileIds = [
  'a:b:c',
  `it's "quoted"`,
  '<script>alert(1)</script>',
  '__proto__',
  'ünï cødé 🚀',
  '%d %s',
  '',
];

function describeSeriesContract(name: string, factory: Factory) {
  describe(`SeriesStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    // The real clock's minute: Redis expires keys by its own clock, so minutes must be recent.
    let clock = minuteOf(Date.now());
    const at = (minutesAgo: number): Minute => minuteOf(Date.now()) - minutesAgo * minuteMs;

    async function open(options: StoreOptions = {}) {
      clock = minuteOf(Date.now());
      const subject = await factory({ now: () => clock, ...options });
      const opened: SeriesStore[] = [subject.store];
      cleanups.push(async () => {
        for (const store of opened) await store.close();
        await subject.cleanup();
      });
      const peer = async () => {
        const store = await subject.peer();
        if (store !== subject.store) opened.push(store);
        return store;
      };
      return { store: subject.store, peer };
    }

    it('adds counters, within a process and across two on the same storage', async () => {
      const { store, peer } = await open();
      const other = await peer();
      const minute = at(3);
      store.add(minute, { received: 2, accepted: 1.5 });
      store.add(minute, { received: 3 });
      other.add(minute, { received: 4, accepted: 0.5 });
      // Any time within the minute counts toward it.
      other.add(minute + 59_999, { received: 1 });
      await Promise.all([store.flush(), other.flush()]);
      const expected = [{ minute, values: { received: 10, accepted: 2 } }];
      expect(await store.read(['received', 'accepted'], minute, minute + minuteMs)).toEqual(expected);
      expect(await other.read(['received', 'accepted'], minute, minute + minuteMs)).toEqual(expected);
    });

    it('keeps the largest value of a gauge, whichever process set it', async () => {
      const { store, peer } = await open();
      const other = await peer();
      const minute = at(2);
      store.raise(minute, { backlog_batches: 5, oldest_waiting_ms: 0 });
      store.raise(minute, { backlog_batches: 3 });
      other.raise(minute, { backlog_batches: 4, oldest_waiting_ms: 1200 });
      await Promise.all([store.flush(), other.flush()]);
      expect(await store.read(['backlog_batches', 'oldest_waiting_ms'], minute, minute + minuteMs)).toEqual([
        { minute, values: { backlog_batches: 5, oldest_waiting_ms: 1200 } },
      ]);
      other.raise(minute, { backlog_batches: 7 });
      await other.flush();
      expect(await store.read(['backlog_batches'], minute, minute + minuteMs)).toEqual([
        { minute, values: { backlog_batches: 7 } },
      ]);
    });

    it('leaves a minute without data out, and a series without data out of its minute (no invented 0)', async () => {
      const { store } = await open();
      const [first, gap, third] = [at(5), at(4), at(3)];
      store.add(first, { received: 1, rejected: 0 });
      store.add(third, { received: 2 });
      await store.flush();
      const points = await store.read(['received', 'rejected', 'duplicate'], first, third + minuteMs);
      expect(points).toEqual([
        { minute: first, values: { received: 1, rejected: 0 } },
        { minute: third, values: { received: 2 } },
      ]);
      expect(points.map((point) => point.minute)).not.toContain(gap);
    });

    it('reads [from, to), oldest first, only the names asked for', async () => {
      const { store } = await open();
      const minutes = [at(6), at(5), at(4), at(3), at(2)];
      // Written out of order, and a minute holding only a series nobody asks for.
      for (const index of [3, 0, 4, 1, 2]) store.add(minutes[index] as Minute, { received: index });
      store.raise(minutes[2] as Minute, { backlog_users: 9 });
      store.raise(at(1), { backlog_users: 1 });
      await store.flush();
      const read = await store.read(['received'], minutes[1] as Minute, minutes[4] as Minute);
      expect(read).toEqual([
        { minute: minutes[1], values: { received: 1 } },
        { minute: minutes[2], values: { received: 2 } },
        { minute: minutes[3], values: { received: 3 } },
      ]);
      expect(await store.read(['received'], at(1), at(1) + minuteMs)).toEqual([]);
      expect(await store.read([], minutes[0] as Minute, at(0))).toEqual([]);
    });

    it('drops minutes once they leave the retention, and ignores writes to them', async () => {
      const { store } = await open({ retentionMinutes: 10 });
      // Two minutes ahead of the real clock: Redis must not expire the oldest minute while we look.
      const now = clock + 2 * minuteMs;
      clock = now;
      store.add(now - 9 * minuteMs, { received: 1 });
      store.add(now - 10 * minuteMs, { received: 1 });
      store.add(now, { received: 2 });
      await store.flush();
      expect((await store.read(['received'], 0, now + minuteMs)).map((point) => point.minute)).toEqual([
        now - 9 * minuteMs,
        now,
      ]);
      clock = now + 2 * minuteMs;
      store.add(clock, { received: 3 });
      await store.flush();
      expect(await store.read(['received'], 0, clock + minuteMs)).toEqual([
        { minute: now, values: { received: 2 } },
        { minute: clock, values: { received: 3 } },
      ]);
    });

    it('round-trips hostile cohort and sink names exactly', async () => {
      const { store, peer } = await open();
      const other = await peer();
      const minute = at(1);
      for (const [index, id] of hostileIds.entries()) {
        store.add(minute, { [`cohort:${id}:entered`]: index + 1, [`sink:${id}:failed`]: 1 });
        other.add(minute, { [`cohort:${id}:entered`]: 1 });
        store.raise(minute, { [`cohort:${id}:members`]: index * 10 });
      }
      await Promise.all([store.flush(), other.flush()]);
      const names = hostileIds.flatMap((id) => [
        `cohort:${id}:entered`,
        `cohort:${id}:members`,
        `sink:${id}:failed`,
      ]);
      const [point] = await store.read(names, minute, minute + minuteMs);
      const expected = hostileIds.flatMap((id, index) => [
        [`cohort:${id}:entered`, index + 2],
        [`cohort:${id}:members`, index * 10],
        [`sink:${id}:failed`, 1],
      ]);
      expect(Object.entries(point?.values ?? {}).sort()).toEqual(expected.sort());
    });

    it('ignores values that are not finite numbers, and writes after close', async () => {
      const { store } = await open();
      const minute = at(1);
      store.add(minute, { received: Number.NaN, accepted: 1 });
      store.raise(minute, { backlog_users: Number.POSITIVE_INFINITY });
      await store.flush();
      expect(await store.read(['received', 'accepted', 'backlog_users'], minute, minute + minuteMs)).toEqual([
        { minute, values: { accepted: 1 } },
      ]);
      // An event after shutdown began (a worker finishing) is dropped, not an error.
      await store.close();
      store.add(minute, { accepted: 5 });
      await store.flush();
      expect(await store.read(['accepted'], minute, minute + minuteMs)).toEqual([
        { minute, values: { accepted: 1 } },
      ]);
    });
  });
}

describeSeriesContract('memory', async (options) => {
  const store = createMemorySeriesStore(options);
  return { store, peer: async () => store, cleanup: async () => {} };
});

describeSeriesContract('sqlite', async (options) => {
  const dir = await createTempDir('series');
  const path = join(dir.path, 'cohorts.inbox.db');
  const databases: Database[] = [openSqliteDatabase(path)];
  return {
    store: createSqliteSeriesStore(databases[0] as Database, options),
    peer: async () => {
      const db = openSqliteDatabase(path);
      databases.push(db);
      return createSqliteSeriesStore(db, options);
    },
    cleanup: async () => {
      for (const db of databases) db.close();
      await dir.remove();
    },
  };
});

async function connect(): Promise<Redis> {
  const redis = new Redis(redisUrl, { lazyConnect: true });
  await redis.connect();
  return redis;
}

describeWithService(await probeRedis(), 'Redis SeriesStore', () => {
  describeSeriesContract('redis', async (options) => {
    const keyPrefix = randomKeyPrefix('test-series');
    const connections: Redis[] = [await connect()];
    const open = (redis: Redis) => createRedisSeriesStore(redis, { ...options, keyPrefix });
    return {
      store: open(connections[0] as Redis),
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

  it('keeps a hash per minute under <KEY_PREFIX>:inspect:series:, expiring when it leaves the retention', async () => {
    const keyPrefix = randomKeyPrefix('test-series');
    const redis = await connect();
    try {
      const store = createRedisSeriesStore(redis, { keyPrefix, retentionMinutes: 10 });
      const minute = minuteOf(Date.now());
      store.add(minute - 5 * minuteMs, { received: 1 });
      store.raise(minute, { backlog_batches: 2 });
      await store.close();
      const keys = (await redis.keys(`${keyPrefix}:*`)).sort();
      expect(keys).toEqual(
        [seriesKey(keyPrefix, minute - 5 * minuteMs), seriesKey(keyPrefix, minute)].sort(),
      );
      const older = await redis.pexpiretime(seriesKey(keyPrefix, minute - 5 * minuteMs));
      expect(older).toBe(minute + 5 * minuteMs);
      expect(await redis.pexpiretime(seriesKey(keyPrefix, minute))).toBe(minute + 10 * minuteMs);
      expect(await redis.hgetall(seriesKey(keyPrefix, minute))).toEqual({ backlog_batches: '2' });
    } finally {
      redis.disconnect();
      await deleteKeysUnder(redisUrl, keyPrefix);
    }
  });
});

describe('SQLite SeriesStore', () => {
  it('writes on its timer, deletes rows that left the retention, and a second file handle sees them', async () => {
    const dir = await createTempDir('series');
    const path = join(dir.path, 'cohorts.inbox.db');
    const db = openSqliteDatabase(path);
    const reader = openSqliteDatabase(path);
    try {
      let clock = minuteOf(Date.now());
      const store = createSqliteSeriesStore(db, {
        retentionMinutes: 10,
        flushIntervalMs: 20,
        now: () => clock,
      });
      const rows = reader.prepare('SELECT minute, name, value FROM inspect_series ORDER BY minute');
      store.add(clock - 9 * minuteMs, { received: 1 });
      store.add(clock, { received: 2 });
      expect(rows.all()).toEqual([]);
      await expect.poll(() => rows.all().length).toBe(2);
      clock += 5 * minuteMs;
      store.add(clock, { received: 3 });
      await store.flush();
      expect(rows.all()).toEqual([
        { minute: clock - 5 * minuteMs, name: 'received', value: 2 },
        { minute: clock, name: 'received', value: 3 },
      ]);
      await store.close();
    } finally {
      db.close();
      reader.close();
      await dir.remove();
    }
  });
});

describe('memory SeriesStore', () => {
  it('drops the oldest minutes beyond maxValues', async () => {
    const store = createMemorySeriesStore({ maxValues: 4 });
    const minute = minuteOf(Date.now());
    store.add(minute - 2 * minuteMs, { received: 1, accepted: 1 });
    store.add(minute - minuteMs, { received: 2, accepted: 2 });
    store.add(minute, { received: 3 });
    expect(
      (await store.read(['received'], 0, minute + minuteMs)).map((point) => point.values.received),
    ).toEqual([2, 3]);
  });
});
