/** @module The one factory that picks each port's implementation from config. */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { DeadLetters } from './letters/letters.ts';
import type { Queue } from './queue/queue.ts';
import { createQueueParts } from './queue/queue-parts.ts';
import { startWalCheckpointer, type WalCheckpointer } from './sqlite/checkpointer.ts';
import { openSqliteDatabase } from './sqlite/database.ts';
import { createMemoryStore } from './store/memory.ts';
import { createPostgresStore } from './store/postgres.ts';
import { createRedisStore } from './store/redis.ts';
import { createSqliteStore } from './store/sqlite.ts';
import type { MembershipStore } from './store/store.ts';

export interface Parts {
  queue: Queue;
  store: MembershipStore;
  deadLetters: DeadLetters;
  /** Closes what the parts opened, in order: queue, store, files. */
  close(): Promise<void>;
}

export async function createParts(config: Config, logger?: Logger): Promise<Parts> {
  // Opened only by the modes that keep something in the file (a SQLite store, queue or dead letters).
  let db: Database | undefined;
  let checkpointer: WalCheckpointer | undefined;
  const sqlite = () => {
    if (db) return db;
    db = openSqliteDatabase(config.SQLITE_PATH);
    if (!db.memory) {
      checkpointer = startWalCheckpointer(config.SQLITE_PATH, (reason) =>
        logger?.warn({ reason }, 'background WAL checkpoints stopped; commits checkpoint on the event loop'),
      );
    }
    return db;
  };
  const sqliteStore = config.STORE === 'sqlite' ? createSqliteStore(sqlite()) : undefined;
  const baseStore = sqliteStore ?? createSharedOrMemoryStore(config);
  // Queue and dead letters: where the queue is (Redis for QUEUE=redis, else the SQLite file), so
  // `npm run dlq` can reach them from another process and they survive a restart.
  const { queue, deadLetters, store, close } = await createQueueParts(config, {
    sqlite,
    store: baseStore,
    sqliteStore,
    logger,
  });
  return {
    queue,
    store,
    deadLetters,
    async close() {
      await close();
      await baseStore.close();
      await checkpointer?.close();
      db?.close();
    },
  };
}

/** The store for STORE=redis, postgres or memory (sqlite shares the file, above). */
function createSharedOrMemoryStore(config: Config): MembershipStore {
  const keyPrefix = config.KEY_PREFIX;
  if (config.STORE === 'redis') return createRedisStore({ url: config.REDIS_URL, keyPrefix });
  if (config.STORE === 'postgres')
    return createPostgresStore({ connectionString: config.DATABASE_URL, keyPrefix });
  return createMemoryStore();
}
