/**
 * @module The composition module: the one place that knows every implementation and wires them,
 * config → shared backends (the SQLite file, a Redis connection) → queue, store, dead letters,
 * sinks → server + worker. Nothing below it reads Config (docs/design.md#where-to-change-what).
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { openStore, type StoreSpec } from './apply-thread/open-store.ts';
import { createThreadedStore, type StoreReads } from './apply-thread/threaded-store.ts';
import { type DeadLetters, truncateBody } from './core/dead-letters/dead-letters.ts';
import { type BatchParser, createBatchParser } from './core/payload/parse-batch.ts';
import { createMemoryQueue } from './core/queue/memory.ts';
import type { Queue } from './core/queue/queue.ts';
import type { MembershipStore } from './core/store/store.ts';
import { createNoDeliveryLog, type DeliveryLog } from './inspect/deliveries/delivery-log.ts';
import { createMemoryDeliveryLog } from './inspect/deliveries/memory.ts';
import { createRedisDeliveryLog } from './inspect/deliveries/redis.ts';
import { createSqliteDeliveryLog } from './inspect/deliveries/sqlite.ts';
import { connectRedis, waitUntilReady } from './redis/connection.ts';
import { createRedisDeadLetters } from './redis/dead-letters.ts';
import { createRedisQueue } from './redis/queue.ts';
import type { Config } from './runtime/config.ts';
import { throttledWarning } from './runtime/logger.ts';
import { redactUrl } from './runtime/redact-url.ts';
import { type RunningReceiver, startServer } from './runtime/server.ts';
import { createBodyDecoder, type UndecodableHandler } from './runtime/stored-batch.ts';
import { createSinks } from './sinks/registry.ts';
import { startWalCheckpointer } from './sqlite/checkpointer.ts';
import { openSqliteDatabase } from './sqlite/database.ts';
import { createSqliteDeadLetters } from './sqlite/dead-letters.ts';
import { createSqliteSpill } from './sqlite/memory-spill.ts';
import { createSqliteQueue, type SqliteQueue } from './sqlite/queue.ts';
import { createSqliteStore, type SqliteStore } from './sqlite/store.ts';

/** The queue, store and dead letters one process works with, and how to close them. */
export interface Backends {
  queue: Queue;
  /** The store the worker applies through and the read API reads. */
  store: MembershipStore;
  deadLetters: DeadLetters;
  /**
   * What the webhook answered and the worker applied, for the inspector; records nothing with
   * INSPECT=off. Absent (backends built by a test): nothing is recorded.
   */
  deliveryLog?: DeliveryLog;
  /** How often the apply thread stopped unasked; absent without one (APPLY_THREAD=off). */
  applyThreadStops?: () => number;
  /** Closes what was opened, last opened first: queue, delivery log, dead letters, store, Redis, the SQLite file. */
  close(): Promise<void>;
}

/** QUEUE=memory with STORE=sqlite: batches handed to the worker at once, so commits can group. */
const memoryQueueInFlight = 32;

/** How long start-up waits for Redis before going on unready (it keeps reconnecting; /readyz says so). */
const redisStartWaitMs = 3000;

export async function createBackends(config: Config, logger?: Logger): Promise<Backends> {
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    const sqlite = sharedSqliteFile(config.SQLITE_PATH, closers, logger);
    // Exactly once on one machine: the store update and the inbox row's removal commit together.
    // Only without sinks: they rely on the batch staying queued until they have its changes
    // (src/sinks/dispatcher.ts), which a removal at commit time would break for a process killed
    // between the two. With sinks, a batch delivered again is restated; applying twice changes nothing.
    const exactlyOnce = config.STORE === 'sqlite' && config.QUEUE === 'sqlite' && config.SINKS.length === 0;
    // On the event loop, the SQLite store also serves the reads beside the apply thread (WAL readers).
    const sqliteStore = config.STORE === 'sqlite' ? createSqliteStore(sqlite()) : undefined;
    const threaded = usesApplyThread(config, exactlyOnce)
      ? createThreadedStore(storeSpecOf(config), {
          reads: sqliteStore ?? networkReads(config, closers),
          onThreadStopped: (reason) =>
            logger?.error({ reason }, 'the apply thread stopped; starting a new one'),
        })
      : undefined;
    const store = threaded ?? sqliteStore ?? openStore(storeSpecOf(config)).store;
    closers.push(() => store.close());

    // Dead letters live where the queue does (Redis, else the SQLite file), so `npm run dlq` and
    // every process of the deployment reach them, and they survive a restart.
    let deadLetters: DeadLetters;
    // An entry a new release's parser refuses goes to the quarantine, raw, where `dlq replay` can retry it.
    const onUndecodable: UndecodableHandler = async ({ messageId, body, reason }) => {
      await deadLetters.add({
        kind: 'rejected',
        reason: `queued, then undecodable: ${reason}`,
        messageId,
        ...truncateBody(body),
      });
    };
    const queueOptions = {
      dedupeTtlSeconds: config.DEDUPE_TTL_SECONDS,
      maxUsers: config.QUEUE_MAX_USERS,
      decodeBody: createBodyDecoder(),
      onUndecodable,
    };

    let queue: Queue;
    // Deliveries are kept beside the queue: every process of a Redis deployment shows them all,
    // and a SQLite one keeps them across restarts.
    let deliveryLog: DeliveryLog = createNoDeliveryLog();
    const warn = logger
      ? throttledWarning(logger, 'recording deliveries for the inspector failed; some are missing', 60_000)
      : undefined;
    const deliveryLogOptions = {
      maxDeliveries: config.INSPECT_MAX_DELIVERIES,
      onError: (error: Error) => warn?.({ error: error.message }),
    };
    if (config.QUEUE === 'redis') {
      const redis = await connectSharedRedis(config.REDIS_URL, logger);
      closers.push(() => redis.disconnect());
      deadLetters = createRedisDeadLetters(redis, {
        keyPrefix: config.KEY_PREFIX,
        maxPerKind: config.QUARANTINE_MAX,
      });
      if (config.INSPECT) {
        deliveryLog = createRedisDeliveryLog(redis, { ...deliveryLogOptions, keyPrefix: config.KEY_PREFIX });
      }
      queue = createRedisQueue({
        ...queueOptions,
        redis,
        keyPrefix: config.KEY_PREFIX,
        claimIdleMs: config.REDIS_CLAIM_IDLE_MS,
        onConsumeError: (error) =>
          logger?.warn({ error: error.message }, 'reading the Redis queue failed; retrying'),
      });
    } else {
      deadLetters = createSqliteDeadLetters(sqlite(), { maxPerKind: config.QUARANTINE_MAX });
      queue =
        config.QUEUE === 'sqlite'
          ? createSqliteQueue(sqlite(), queueOptions)
          : createMemoryQueue({
              ...queueOptions,
              // Enough batches in flight for the SQLite store to fill a group commit (src/store/sqlite-group-commit.ts).
              maxInFlight: sqliteStore ? memoryQueueInFlight : 1,
              spill: createSqliteSpill(sqlite()),
            });
      if (config.INSPECT) {
        deliveryLog =
          config.QUEUE === 'sqlite'
            ? createSqliteDeliveryLog(sqlite(), deliveryLogOptions)
            : createMemoryDeliveryLog(deliveryLogOptions);
      }
    }
    const letters = deadLetters;
    const deliveries = deliveryLog;
    closers.push(() => letters.close());
    // Closed after the queue (nothing records any more) and before the file or connection it writes to.
    closers.push(() => deliveries.close());
    closers.push(() => queue.close());

    return {
      queue,
      store: exactlyOnce && sqliteStore ? applyingWithInboxRemoval(sqliteStore, queue as SqliteQueue) : store,
      deadLetters,
      deliveryLog,
      ...(threaded && { applyThreadStops: () => threaded.threadStops }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Wraps the SQLite store so that applying the batch being delivered commits together with the
 * removal of its inbox row (SqliteQueue.completeWith): neither a crash before the commit (the row
 * stays: applied once, later) nor one after it (the row is gone) can apply it twice.
 */
export function applyingWithInboxRemoval(store: SqliteStore, queue: SqliteQueue): MembershipStore {
  return {
    ...store,
    async applyBatch(batch, options) {
      return queue.completeWith(batch.messageId, () => store.applyBatchSync(batch, options));
    },
  };
}

/** The SQLite file, opened on first use: only the modes that keep something there open it. */
function sharedSqliteFile(path: string, closers: (() => Promise<void> | void)[], logger?: Logger) {
  let db: Database | undefined;
  return () => {
    if (db) return db;
    const opened = openSqliteDatabase(path);
    db = opened;
    closers.push(() => {
      opened.close();
    });
    if (!opened.memory) {
      const checkpointer = startWalCheckpointer(path, (reason) =>
        logger?.warn({ reason }, 'background WAL checkpoints stopped; commits checkpoint on the event loop'),
      );
      closers.push(() => checkpointer.close());
    }
    return opened;
  };
}

async function connectSharedRedis(url: string, logger?: Logger) {
  // The error's message only: ioredis attaches the failed command, whose arguments hold the password.
  const warn = logger ? throttledWarning(logger, 'Redis connection failed; reconnecting', 30_000) : undefined;
  const redis = connectRedis(url, { onError: (error) => warn?.({ error: error.message }) });
  if (!(await waitUntilReady(redis, redisStartWaitMs))) {
    logger?.error({ url: redactUrl(url) }, 'Redis is unreachable; starting unready');
  }
  return redis;
}

/** What STORE names, as the apply thread (or openStore, without one) builds it. */
function storeSpecOf(config: Config): StoreSpec {
  const keyPrefix = config.KEY_PREFIX;
  if (config.STORE === 'sqlite') return { kind: 'sqlite', path: config.SQLITE_PATH };
  if (config.STORE === 'redis') return { kind: 'redis', url: config.REDIS_URL, keyPrefix };
  if (config.STORE === 'postgres')
    return { kind: 'postgres', connectionString: config.DATABASE_URL, keyPrefix };
  return { kind: 'memory' };
}

/**
 * With STORE=postgres or redis, the read API's queries go from the event loop on a client of their
 * own: they wait on the network, not behind the thread's applies in its pool, and their rows cross
 * no thread. A receiver-only process serves no reads and opens none.
 */
function networkReads(config: Config, closers: (() => Promise<void> | void)[]): StoreReads | undefined {
  if ((config.STORE !== 'postgres' && config.STORE !== 'redis') || config.ROLE === 'receiver')
    return undefined;
  const opened = openStore(storeSpecOf(config));
  closers.push(() => opened.close());
  return opened.store;
}

/**
 * The store works on its own thread unless APPLY_THREAD=off, or the inbox's exactly-once apply needs
 * the inbox's own connection, or the SQLite database is in memory (a thread cannot share it).
 */
function usesApplyThread(config: Config, exactlyOnce: boolean): boolean {
  const inMemoryFile =
    config.STORE === 'sqlite' && (config.SQLITE_PATH === ':memory:' || config.SQLITE_PATH === '');
  return config.APPLY_THREAD && !exactlyOnce && !inMemoryFile;
}

/** The webhook's parser with the configured limits (also how `dlq replay` judges a quarantined body). */
export function batchParserFor(config: Config): BatchParser {
  return createBatchParser({
    maxUsers: config.MAX_USERS_PER_BATCH,
    maxUserIdLength: config.MAX_USER_ID_LENGTH,
    maxProperties: config.MAX_PROPERTIES_PER_USER,
    maxPropertyDepth: config.MAX_PROPERTY_DEPTH,
  });
}

export interface StartOptions {
  /**
   * Builds the backends in place of `createBackends(config)`: for tests that wrap a real store or
   * queue to inject a fault (a slow or failing store) and still run the real server and worker.
   */
  createBackends?: (config: Config, logger: Logger) => Promise<Backends>;
}

/** Starts the receiver `config` describes: backends, sinks, HTTP server and worker. */
export async function startReceiver(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningReceiver> {
  // Built first: a sink that cannot be built stops start-up before anything opens.
  const sinks = config.ROLE === 'receiver' ? [] : createSinks(config.SINKS, logger);
  const backends = await (options.createBackends ?? createBackends)(config, logger);
  try {
    return await startServer(
      { ...backends, sinks, logger, parseBatch: batchParserFor(config) },
      {
        port: config.PORT,
        host: config.HOST,
        role: config.ROLE,
        mode: { queue: config.QUEUE, store: config.STORE },
        webhookPath: config.WEBHOOK_PATH,
        maxBodyBytes: config.MAX_BODY_BYTES,
        auth: { tokens: config.AUTH_TOKENS, header: config.AUTH_HEADER },
        limits: {
          headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
          requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
          keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
          maxConnections: config.MAX_CONNECTIONS,
        },
        queueMaxUsers: config.QUEUE_MAX_USERS,
        applyMaxAttempts: config.APPLY_MAX_ATTEMPTS,
        sinkMaxAttempts: config.SINK_MAX_ATTEMPTS,
        shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
        inspect: config.INSPECT
          ? {
              path: config.INSPECT_PATH,
              // Operators' tokens rotate apart from Amplitude's secret when ADMIN_TOKENS is set.
              tokens: config.ADMIN_TOKENS.length > 0 ? config.ADMIN_TOKENS : config.AUTH_TOKENS,
              trustedProxies: config.TRUST_PROXY,
            }
          : undefined,
      },
    );
  } catch (error) {
    await backends.close();
    throw error;
  }
}
