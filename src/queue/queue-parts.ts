/**
 * @module The queue half of `parts.ts`: picks the queue (QUEUE) and where dead letters go (beside
 * it: Redis for QUEUE=redis, the SQLite file otherwise), so both are reachable by every process of
 * the deployment and by `npm run dlq`.
 */
import type { Database } from 'better-sqlite3';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { DeadLetters } from '../letters/letters.ts';
import { truncateBody } from '../letters/letters.ts';
import { createRedisDeadLetters } from '../letters/redis.ts';
import { createSqliteDeadLetters } from '../letters/sqlite.ts';
import { connectRedis, waitUntilReady } from '../redis/connection.ts';
import type { SqliteStore } from '../store/sqlite.ts';
import type { MembershipStore } from '../store/store.ts';
import { createMemoryQueue } from './memory.ts';
import type { Queue } from './queue.ts';
import { createRedisQueue } from './redis.ts';
import { createSqliteQueue } from './sqlite.ts';
import { applyingFromInbox } from './sqlite-exactly-once.ts';
import { createBodyDecoder, type UndecodableHandler } from './stored-batch.ts';

export interface QueueParts {
  queue: Queue;
  deadLetters: DeadLetters;
  /** The store to apply through: the one given, or it wrapped for exactly-once (see below). */
  store: MembershipStore;
  /** Closes the queue, the dead letters and the Redis connection (not `db`: the caller owns it). */
  close(): Promise<void>;
}

export interface QueuePartsDeps {
  /** The SQLite file, opened lazily: only the modes that keep something there open it. */
  sqlite: () => Database;
  store: MembershipStore;
  /** Set when `store` is the SQLite store on that same file. */
  sqliteStore?: SqliteStore | undefined;
  logger?: Logger | undefined;
}

/** How long start-up waits for Redis before going on unready (it keeps reconnecting and /readyz says so). */
const redisStartWaitMs = 3000;

export async function createQueueParts(config: Config, deps: QueuePartsDeps): Promise<QueueParts> {
  const base = { dedupeTtlSeconds: config.DEDUPE_TTL_SECONDS, maxUsers: config.QUEUE_MAX_USERS };
  let deadLetters: DeadLetters | undefined;
  // An entry a new release's parser refuses goes to the quarantine, raw, where `dlq replay` can retry it.
  const onUndecodable: UndecodableHandler = async ({ messageId, body, reason }) => {
    await deadLetters?.add({
      kind: 'rejected',
      reason: `queued, then undecodable: ${reason}`,
      messageId,
      ...truncateBody(body),
    });
  };

  if (config.QUEUE === 'redis') {
    const redis: Redis = connectRedis(config.REDIS_URL, {
      onError: throttled((error) =>
        deps.logger?.warn({ err: error }, 'Redis connection failed; reconnecting'),
      ),
    });
    if (!(await waitUntilReady(redis, redisStartWaitMs))) {
      deps.logger?.error({ url: redactUrl(config.REDIS_URL) }, 'Redis is unreachable; starting unready');
    }
    deadLetters = createRedisDeadLetters(redis, {
      keyPrefix: config.KEY_PREFIX,
      maxPerKind: config.QUARANTINE_MAX,
    });
    const queue = createRedisQueue({
      ...base,
      redis,
      keyPrefix: config.KEY_PREFIX,
      claimIdleMs: config.REDIS_CLAIM_IDLE_MS,
      decodeBody: createBodyDecoder(),
      onUndecodable,
      onConsumeError: (error) =>
        deps.logger?.warn({ err: error }, 'reading the Redis queue failed; retrying'),
    });
    const letters = deadLetters;
    return {
      queue,
      deadLetters: letters,
      store: deps.store,
      async close() {
        await queue.close();
        await letters.close();
        redis.disconnect();
      },
    };
  }

  const db = deps.sqlite();
  const letters = createSqliteDeadLetters(db, { maxPerKind: config.QUARANTINE_MAX });
  deadLetters = letters;
  if (config.QUEUE === 'memory') {
    const queue = createMemoryQueue({ ...base, decodeBody: createBodyDecoder(), onUndecodable });
    return { queue, deadLetters: letters, store: deps.store, close: () => closeBoth(queue, letters) };
  }
  const queue = createSqliteQueue(db, { ...base, decodeBody: createBodyDecoder(), onUndecodable });
  // Exactly once: the store update and the inbox row's removal commit together. Only without sinks:
  // the sinks rely on the batch staying queued until they have its changes (src/sinks/dispatcher.ts),
  // which a removal at commit time would break for a process killed between the two. With sinks,
  // the row goes once they have the changes, and a batch delivered again is restated, not re-applied
  // in effect (last writer wins: a second apply changes nothing).
  const exactlyOnce = deps.sqliteStore !== undefined && config.SINKS.length === 0;
  return {
    queue,
    deadLetters: letters,
    store: exactlyOnce && deps.sqliteStore ? applyingFromInbox(deps.sqliteStore, queue) : deps.store,
    close: () => closeBoth(queue, letters),
  };
}

async function closeBoth(queue: Queue, letters: DeadLetters) {
  await queue.close();
  await letters.close();
}

/** Calls `report` at most once every 30 s: a Redis that stays down must not flood the log. */
function throttled(report: (error: Error) => void): (error: Error) => void {
  let last = 0;
  return (error) => {
    if (Date.now() - last < 30_000) return;
    last = Date.now();
    report(error);
  };
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.username = '';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}
