/**
 * @module Sink control in Redis, under `<KEY_PREFIX>:sinkctl:`, beside the queue's `:queue:` and the
 * store's `:store:`: the receiver and every worker share one Redis, so they see the same pauses,
 * holds, backfills and waiting changes. Whatever must be atomic with `admit` (pause, hold, release,
 * discard, backfill) is either one command or one Lua script (redis-control-lua.ts), so Redis runs
 * each whole, never interleaved. Redis errors propagate: the caller retries.
 *
 * Like the queue and the delivery log, the scripts build some keys from prefixes and use no hash
 * tags: sink control expects one Redis primary, not a cluster.
 */
import type { Redis } from 'ioredis';
import type { MembershipChange } from '../core/store/store.ts';
import { runScript } from '../runtime/redis-script.ts';
import type { ControlState, ControlStore, ExitWindow, WaitingChange } from './control-store.ts';
import {
  admitScript,
  backlogsScript,
  countExitsScript,
  endHoldScript,
  leaseScript,
  removeScript,
  stateScript,
  unleaseScript,
} from './redis-control-lua.ts';

/**
 * Sink control's key names under one prefix. Ids are appended raw after a fixed segment, so two
 * kinds of key never collide; `held` puts the cohort id's byte length first so that the (cohort,
 * sink) split is unambiguous.
 */
export interface SinkControlKeys {
  /** HASH sink -> JSON Stamp of the first pause. */
  paused: string;
  /** HASH cohort id -> JSON Hold (the first one). */
  holds: string;
  /** HASH sink -> JSON Backfill. */
  backfills: string;
  /** STRING integer: the last seq given to a parked change (one counter for every sink). */
  seq: string;
  /** HASH sink -> how many held rows it has, in every cohort: the `held` of its backlog. */
  heldCounts: string;
  /** ZSET of the sink's waiting (not held) rows: member `<seq>:<change JSON>`, score the seq. */
  waiting(sink: string): string;
  waitingPrefix: string;
  /** ZSET of one sink's held rows of one cohort, as {@link SinkControlKeys.waiting}. */
  held(sink: string, cohortId: string): string;
  heldPrefix: string;
  /** SET of the sinks with held rows of the cohort: what release and discard visit, with no SCAN. */
  heldSinks(cohortId: string): string;
  heldSinksPrefix: string;
  /** HASH `openedAt`, `membersAtOpen`, `exits` (decimal text): the guard's window for a cohort. */
  window(cohortId: string): string;
  /** STRING the owner of the sink's drain and backfill, expiring with the lease. */
  lease(sink: string): string;
  /** A SCAN pattern matching every key above, for clean-up. */
  pattern: string;
}

export function sinkControlKeys(keyPrefix: string): SinkControlKeys {
  const root = `${keyPrefix}:sinkctl:`;
  const waitingPrefix = `${root}waiting:`;
  const heldPrefix = `${root}held:`;
  const heldSinksPrefix = `${root}held-sinks:`;
  return {
    paused: `${root}paused`,
    holds: `${root}holds`,
    backfills: `${root}backfills`,
    seq: `${root}seq`,
    heldCounts: `${root}held-counts`,
    waiting: (sink) => waitingPrefix + sink,
    waitingPrefix,
    // As the Lua heldKey (redis-control-lua.ts): `#` there is the byte length.
    held: (sink, cohortId) => `${heldPrefix}${Buffer.byteLength(cohortId)}:${cohortId}${sink}`,
    heldPrefix,
    heldSinks: (cohortId) => heldSinksPrefix + cohortId,
    heldSinksPrefix,
    window: (cohortId) => `${root}window:${cohortId}`,
    lease: (sink) => `${root}lease:${sink}`,
    pattern: `${root}*`,
  };
}

/** HGETALL's flat reply as an object of parsed JSON values. */
function parsedHash<T>(flat: readonly string[]): Record<string, T> {
  const found: Record<string, T> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) {
    found[flat[index] as string] = JSON.parse(flat[index + 1] as string) as T;
  }
  return found;
}

/** The caller owns `redis` (a request-path connection, src/redis/connection.ts) and closes it. */
export function createRedisControl(redis: Redis, keyPrefix: string): ControlStore {
  const keys = sinkControlKeys(keyPrefix);

  const endHold = async (cohortId: string, keep: boolean): Promise<number> =>
    Number(
      await runScript(redis, endHoldScript, [
        keys.holds,
        keys.heldSinks(cohortId),
        keys.heldCounts,
        cohortId,
        keys.heldPrefix,
        keys.waitingPrefix,
        keep ? '1' : '0',
      ]),
    );

  return {
    async state() {
      const [paused, holds, backfills] = (await runScript(redis, stateScript, [
        keys.paused,
        keys.holds,
        keys.backfills,
      ])) as [string[], string[], string[]];
      return {
        paused: parsedHash(paused),
        holds: parsedHash(holds),
        backfills: parsedHash(backfills),
      } satisfies ControlState;
    },

    async admit(sink, changes) {
      if (changes.length === 0) return [];
      const args: string[] = [
        keys.paused,
        keys.backfills,
        keys.holds,
        keys.seq,
        keys.waiting(sink),
        keys.heldCounts,
        sink,
        keys.heldPrefix,
        keys.heldSinksPrefix,
      ];
      for (const change of changes) args.push(change.cohortId, JSON.stringify(change));
      const indexes = (await runScript(redis, admitScript, args)) as number[];
      return indexes.map((index) => changes[index] as MembershipChange);
    },

    async waiting(sink, limit) {
      if (limit <= 0) return [];
      // The member starts with its seq (its score), so no WITHSCORES (whose reply RESP3 would reshape).
      const members = await redis.zrange(keys.waiting(sink), 0, String(limit - 1));
      return members.map((member): WaitingChange => {
        const colon = member.indexOf(':');
        return {
          seq: Number(member.slice(0, colon)),
          change: JSON.parse(member.slice(colon + 1)) as MembershipChange,
        };
      });
    },

    async remove(sink, seqs) {
      if (seqs.length === 0) return;
      await runScript(redis, removeScript, [keys.waiting(sink), ...seqs]);
    },

    async backlogs(sinks) {
      if (sinks.length === 0) return [];
      const flat = (await runScript(redis, backlogsScript, [
        keys.heldCounts,
        keys.waitingPrefix,
        ...sinks,
      ])) as number[];
      return sinks.map((sink, index) => ({
        sink,
        waiting: Number(flat[2 * index]),
        held: Number(flat[2 * index + 1]),
      }));
    },

    async pause(sink, stamp) {
      await redis.hsetnx(keys.paused, sink, JSON.stringify(stamp));
    },

    async resume(sink) {
      await redis.hdel(keys.paused, sink);
    },

    async setBackfill(sink, backfill) {
      if (backfill === null) await redis.hdel(keys.backfills, sink);
      else await redis.hset(keys.backfills, sink, JSON.stringify(backfill));
    },

    async hold(hold) {
      await redis.hsetnx(keys.holds, hold.cohortId, JSON.stringify(hold));
    },

    async release(cohortId) {
      return endHold(cohortId, true);
    },

    async discard(cohortId) {
      return endHold(cohortId, false);
    },

    async countExits(cohortId, { exits, membersBefore, now, windowMs }) {
      const [openedAt, membersAtOpen, counted] = (await runScript(redis, countExitsScript, [
        keys.window(cohortId),
        exits,
        membersBefore,
        now,
        windowMs,
      ])) as [string, string, string];
      return {
        openedAt: Number(openedAt),
        membersAtOpen: Number(membersAtOpen),
        exits: Number(counted),
      } satisfies ExitWindow;
    },

    async closeWindow(cohortId) {
      await redis.del(keys.window(cohortId));
    },

    async lease(sink, owner, ttlMs) {
      // PX takes a positive integer: a lease shorter than 1 ms lasts 1 ms.
      const px = Math.max(1, Math.ceil(ttlMs));
      return (await runScript(redis, leaseScript, [keys.lease(sink), owner, px])) === 1;
    },

    async unlease(sink, owner) {
      await runScript(redis, unleaseScript, [keys.lease(sink), owner]);
    },
  };
}
