/**
 * @module A MembershipStore in Redis, shared by any number of workers and readers: each batch is
 * one Lua script (the last-writer-wins rule, tombstones and effective changes all decided inside
 * Redis, atomically), and the read endpoints each cost one script call. Key layout: `redis-keys.ts`.
 */
import type { Redis } from 'ioredis';
import type { CohortBatch } from '../core/batch.ts';
import { StoreUnavailableError } from '../core/errors.ts';
import { type MemberRow, membersPage, pageRead } from '../core/store/members-page.ts';
import { outcomeChange, type Register, toPropertiesJson } from '../core/store/register.ts';
import type { CohortSummary, MembershipChange, MembershipStore, UserCohort } from '../core/store/store.ts';
import { redactUrl } from '../runtime/redact-url.ts';
import { runScript } from '../runtime/redis-script.ts';
import { connectRedis, isRedisAway } from './connection.ts';
import { applyBatchScript, writeOutcomeOf } from './lua/apply-batch.ts';
import { listCohortsScript } from './lua/list-cohorts.ts';
import { listMembersScript } from './lua/list-members.ts';
import { removeCohortScript } from './lua/remove-cohort.ts';
import { userCohortsScript } from './lua/user-cohorts.ts';
import { type StoreKeys, storeKeys } from './store-keys.ts';

export interface RedisStoreOptions {
  /** A `redis://` or `rediss://` URL. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** KEY_PREFIX: every key the store touches starts with `<keyPrefix>:store:`. */
  keyPrefix: string;
  /** How long opening a connection may take before operations fail. @default 2000 */
  connectTimeoutMs?: number;
  /** How long one command may take before it fails (a retry is harmless: applying is idempotent). @default 10000 */
  commandTimeoutMs?: number;
}

/** The apply script's answer: one outcome character per user, then the held registers it restates. */
type ApplyResult = [outcomes: string, ...staleRegisters: string[]];

/**
 * Creates the store and starts connecting. Operations fail fast with a StoreUnavailableError naming
 * the server while Redis is unreachable (no offline queue: the worker waits and retries, /readyz
 * reports it), and work again once the client has reconnected by itself. `close()` ends the connection.
 */
export function createRedisStore(options: RedisStoreOptions): MembershipStore {
  const {
    url = 'redis://127.0.0.1:6379',
    keyPrefix,
    connectTimeoutMs = 2000,
    commandTimeoutMs = 10_000,
  } = options;
  const keys = storeKeys(keyPrefix);
  let lastConnectionError: Error | undefined;
  // The operations report a failed connection, with its cause, rather than ioredis printing it.
  const redis = connectRedis(url, {
    connectionName: `${keyPrefix}:store`,
    connectTimeoutMs,
    commandTimeoutMs,
    onError: (error) => {
      lastConnectionError = error;
    },
  });
  redis.on('ready', () => {
    lastConnectionError = undefined;
  });
  const server = redactUrl(url, 'the configured REDIS_URL');

  /** Runs `command` once a connection attempt in progress has settled; wraps any failure in a clear error. */
  const run = async <T>(what: string, command: () => Promise<T>): Promise<T> => {
    try {
      await connectionAttempt(redis);
      return await command();
    } catch (error) {
      const cause = lastConnectionError && redis.status !== 'ready' ? lastConnectionError : (error as Error);
      const message = `Redis store at ${server} could not ${what}: ${cause.message}`;
      if (isRedisAway(error, redis)) throw new StoreUnavailableError(message, { cause: error });
      throw new Error(message, { cause: error });
    }
  };

  return {
    async applyBatch(batch, { restate = false } = {}) {
      const result = (await run('apply a batch', () =>
        runScript(redis, applyBatchScript, applyBatchArguments(batch, keys, restate)),
      )) as ApplyResult;
      return changesFrom(batch, result, restate);
    },

    async listCohorts() {
      const flat = (await run('list cohorts', () =>
        runScript(redis, listCohortsScript, [keys.cohorts, keys.cohortPrefix, keys.membersPrefix]),
      )) as (string | number)[];
      const cohorts: CohortSummary[] = [];
      for (let i = 0; i < flat.length; i += 4) {
        cohorts.push({
          cohortId: String(flat[i]),
          cohortName: String(flat[i + 1]),
          updatedAt: Number(flat[i + 2]),
          members: Number(flat[i + 3]),
        });
      }
      return cohorts;
    },

    async listMembers(cohortId, request) {
      const { afterUserId, fetch } = pageRead(request);
      const start = afterUserId === undefined ? '-' : `(${afterUserId}`;
      const flat = (await run('list members', () =>
        runScript(redis, listMembersScript, [keys.members(cohortId), keys.registers(cohortId), start, fetch]),
      )) as string[];
      const rows: MemberRow[] = [];
      for (let i = 0; i < flat.length; i += 4) {
        rows.push([flat[i] as string, flat[i + 1] as string, flat[i + 2] as string, flat[i + 3] as string]);
      }
      return membersPage(rows, request.limit);
    },

    async userCohorts(userId) {
      const flat = (await run('list the cohorts of a user', () =>
        runScript(redis, userCohortsScript, [
          keys.userCohorts,
          userId,
          keys.cohortPrefix,
          keys.registersPrefix,
        ]),
      )) as string[];
      const cohorts: UserCohort[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        cohorts.push({
          cohortId: flat[i] as string,
          cohortName: flat[i + 1] as string,
          since: Number(flat[i + 2]),
        });
      }
      return cohorts;
    },

    async removeCohort(cohortId) {
      const scriptKeys = [
        keys.registers(cohortId),
        keys.members(cohortId),
        keys.cohort(cohortId),
        keys.cohorts,
        keys.userCohorts,
      ];
      let removedAny = false;
      // Step by step (see the script): applies of other cohorts run in between.
      for (;;) {
        const [done, removed] = (await run('remove a cohort', () =>
          runScript(redis, removeCohortScript, [...scriptKeys, cohortId]),
        )) as [number, number];
        removedAny ||= removed > 0;
        if (done === 1) return removedAny;
      }
    },

    async check() {
      await run('answer PING', () => redis.ping());
    },

    async close() {
      if (redis.status === 'end') return;
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

/** The apply script's KEYS then ARGV (see its header), as one flat array. */
function applyBatchArguments(batch: CohortBatch, keys: StoreKeys, restate: boolean): string[] {
  const { cohortId, users } = batch;
  const count = users.length;
  const head = [
    keys.registers(cohortId),
    keys.members(cohortId),
    keys.cohort(cohortId),
    keys.cohorts,
    keys.userCohorts,
    cohortId,
    batch.cohortName,
    batch.inCohort ? '1' : '0',
    String(batch.computedTime),
    batch.messageId,
    restate ? '1' : '0',
    String(count),
  ];
  const args = new Array<string>(head.length + 2 * count);
  for (let i = 0; i < head.length; i++) args[i] = head[i] as string;
  for (let i = 0; i < count; i++) {
    // biome-ignore lint/style/noNonNullAssertion: i < users.length.
    const user = users[i]!;
    args[head.length + i] = user.userId;
    args[head.length + count + i] = toPropertiesJson(user.properties) ?? '';
  }
  return args;
}

/**
 * The changes, in batch order, from the script's answer: the effective ones, and with `restate` the
 * state held for every other distinct user (see ApplyOptions in `store.ts`).
 */
function changesFrom(
  batch: CohortBatch,
  [outcomes, ...stale]: ApplyResult,
  restate: boolean,
): MembershipChange[] {
  const changes: MembershipChange[] = [];
  let staleIndex = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = writeOutcomeOf(outcomes.charAt(i));
    if (outcome === undefined) continue; // a repeated listing
    let held: Register | undefined;
    if (restate && outcome === 'stale') {
      const [heldIn, heldTime, heldMessageId, heldProperties] = stale.slice(staleIndex, staleIndex + 4);
      staleIndex += 4;
      held = {
        inCohort: heldIn === '1',
        computedTime: Number(heldTime),
        messageId: heldMessageId as string,
        propertiesJson: heldProperties || null,
      };
    }
    // biome-ignore lint/style/noNonNullAssertion: the script returns one character per user.
    const change = outcomeChange(batch, batch.users[i]!, outcome, restate, held);
    if (change !== undefined) changes.push(change);
  }
  return changes;
}

/**
 * Resolves once a connection attempt in progress has settled (at most the connect timeout), so an
 * operation issued right after start-up waits for it rather than fails. Between attempts, while
 * Redis is down, operations fail fast: the client keeps reconnecting by itself.
 */
function connectionAttempt(redis: Redis): Promise<void> {
  if (redis.status !== 'connecting' && redis.status !== 'connect') return Promise.resolve();
  return new Promise((resolve) => {
    const settled = () => {
      redis.off('ready', settled);
      redis.off('close', settled);
      resolve();
    };
    redis.on('ready', settled);
    redis.on('close', settled);
  });
}
