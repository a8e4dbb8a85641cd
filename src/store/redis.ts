/**
 * @module A MembershipStore in Redis, shared by any number of workers and readers: each batch is
 * one Lua script (the last-writer-wins rule, tombstones and effective changes all decided inside
 * Redis, atomically), and the read endpoints each cost one script call. Key layout: `redis-keys.ts`.
 */
import { Redis } from 'ioredis';
import type { CohortBatch } from '../batch.ts';
import { APPLY_OUTCOME, applyBatchScript } from './lua/apply-batch.ts';
import { listCohortsScript } from './lua/list-cohorts.ts';
import { listMembersScript } from './lua/list-members.ts';
import type { RedisScript } from './lua/script.ts';
import { userCohortsScript } from './lua/user-cohorts.ts';
import { type StoreKeys, storeKeys } from './redis-keys.ts';
import {
  assertPageLimit,
  batchChange,
  decodeMemberCursor,
  encodeMemberCursor,
  restatedChange,
  toPropertiesJson,
} from './register.ts';
import type { CohortSummary, Member, MembershipChange, MembershipStore, UserCohort } from './store.ts';

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

type ScriptCall = (...keysThenArguments: string[]) => Promise<unknown>;

const KIND_BY_OUTCOME: Record<string, MembershipChange['kind'] | undefined> = {
  [APPLY_OUTCOME.entered]: 'entered',
  [APPLY_OUTCOME.left]: 'left',
  [APPLY_OUTCOME.updated]: 'updated',
};

/** The apply script's answer: one outcome character per user, then the held registers it restates. */
type ApplyResult = [outcomes: string, ...staleRegisters: string[]];

/**
 * Creates the store and starts connecting. Operations fail fast with an error naming the server
 * while Redis is unreachable (no offline queue: the worker retries, /readyz reports it), and work
 * again once the client has reconnected by itself. `close()` ends the connection.
 */
export function createRedisStore(options: RedisStoreOptions): MembershipStore {
  const {
    url = 'redis://127.0.0.1:6379',
    keyPrefix,
    connectTimeoutMs = 2000,
    commandTimeoutMs = 10_000,
  } = options;
  const keys = storeKeys(keyPrefix);
  const redis = new Redis(url, {
    connectionName: `${keyPrefix}:store`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
  });
  const server = describeRedisUrl(url);
  let lastConnectionError: Error | undefined;
  // Without a listener ioredis prints every failed reconnection; the operations report it instead.
  redis.on('error', (error: Error) => {
    lastConnectionError = error;
  });
  redis.on('ready', () => {
    lastConnectionError = undefined;
  });

  const applyBatchCall = defineScript(redis, applyBatchScript);
  const listMembersCall = defineScript(redis, listMembersScript);
  const listCohortsCall = defineScript(redis, listCohortsScript);
  const userCohortsCall = defineScript(redis, userCohortsScript);

  /** Runs `command` once a connection attempt in progress has settled; wraps any failure in a clear error. */
  const run = async <T>(what: string, command: () => Promise<T>): Promise<T> => {
    try {
      await connectionAttempt(redis);
      return await command();
    } catch (error) {
      const cause = lastConnectionError && redis.status !== 'ready' ? lastConnectionError : (error as Error);
      throw new Error(`Redis store at ${server} could not ${what}: ${cause.message}`, { cause: error });
    }
  };

  return {
    async applyBatch(batch, { restate = false } = {}) {
      const result = (await run('apply a batch', () =>
        applyBatchCall(...applyBatchArguments(batch, keys, restate)),
      )) as ApplyResult;
      return changesFrom(batch, result, restate);
    },

    async listCohorts() {
      const flat = (await run('list cohorts', () =>
        listCohortsCall(keys.cohorts, keys.cohortPrefix, keys.membersPrefix),
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

    async listMembers(cohortId, { limit, cursor }) {
      assertPageLimit(limit);
      const start = cursor === undefined ? '-' : `(${decodeMemberCursor(cursor)}`;
      // One member more than asked says whether another page follows.
      const flat = (await run('list members', () =>
        listMembersCall(keys.members(cohortId), keys.registers(cohortId), start, String(limit + 1)),
      )) as string[];
      const members: Member[] = [];
      for (let i = 0; i < flat.length && members.length < limit; i += 3) {
        const properties = flat[i + 2];
        members.push({
          userId: flat[i] as string,
          since: Number(flat[i + 1]),
          properties: properties ? (JSON.parse(properties) as Record<string, unknown>) : null,
        });
      }
      const last = members.at(-1);
      return {
        members,
        nextCursor: flat.length > limit * 3 && last ? encodeMemberCursor(last.userId) : null,
      };
    },

    async userCohorts(userId) {
      const flat = (await run('list the cohorts of a user', () =>
        userCohortsCall(keys.userCohorts, userId, keys.cohortPrefix, keys.registersPrefix),
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
    const outcome = outcomes.charAt(i);
    // biome-ignore lint/style/noNonNullAssertion: the script returns one character per user.
    const user = batch.users[i]!;
    const kind = KIND_BY_OUTCOME[outcome];
    if (kind !== undefined || (restate && outcome === APPLY_OUTCOME.unchanged)) {
      changes.push(batchChange(batch, user, kind));
    } else if (restate && outcome === APPLY_OUTCOME.stale) {
      const [heldIn, heldTime, heldMessageId, heldProperties] = stale.slice(staleIndex, staleIndex + 4);
      staleIndex += 4;
      changes.push(
        restatedChange(batch, user.userId, {
          inCohort: heldIn === '1',
          computedTime: Number(heldTime),
          messageId: heldMessageId as string,
          propertiesJson: heldProperties || null,
        }),
      );
    }
  }
  return changes;
}

/** Registers `script` with ioredis (EVALSHA, falling back to EVAL after a Redis restart) and returns its caller. */
function defineScript(redis: Redis, script: RedisScript): ScriptCall {
  const { name, numberOfKeys, lua, readOnly } = script;
  redis.defineCommand(name, { numberOfKeys, lua, readOnly });
  const call = (redis as unknown as Record<string, ScriptCall>)[name];
  if (call === undefined) throw new Error(`ioredis did not define the command ${name}`);
  return call.bind(redis);
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

/** The URL without credentials, to name the server in errors. */
function describeRedisUrl(url: string): string {
  try {
    const { protocol, host, pathname } = new URL(url);
    return `${protocol}//${host}${pathname === '/' ? '' : pathname}`;
  } catch {
    return 'the configured REDIS_URL';
  }
}
