/** @module The one factory that picks each port's implementation from config. */
import type { Database } from 'better-sqlite3';
import type { Config } from './config.ts';
import type { DeadLetters } from './letters/letters.ts';
import { createSqliteDeadLetters } from './letters/sqlite.ts';
import { createMemoryQueue } from './queue/memory.ts';
import type { Queue } from './queue/queue.ts';
import { createMemoryStore } from './store/memory.ts';
import { createSqliteStore } from './store/sqlite.ts';
import { openSqliteDatabase } from './store/sqlite-database.ts';
import type { MembershipStore } from './store/store.ts';

export interface Parts {
  queue: Queue;
  store: MembershipStore;
  deadLetters: DeadLetters;
  /** Closes what the parts opened, in order: queue, store, files. */
  close(): Promise<void>;
}

export async function createParts(config: Config): Promise<Parts> {
  // Dead letters and the quarantine live in the SQLite file, so `npm run dlq` can read them from
  // another process and they survive a restart.
  const db: Database = openSqliteDatabase(config.SQLITE_PATH);
  const deadLetters = createSqliteDeadLetters(db, { maxPerKind: config.QUARANTINE_MAX });
  const store = config.STORE === 'sqlite' ? createSqliteStore(db) : createMemoryStore();
  const queue = createMemoryQueue({
    dedupeTtlSeconds: config.DEDUPE_TTL_SECONDS,
    maxUsers: config.QUEUE_MAX_USERS,
  });
  return {
    queue,
    store,
    deadLetters,
    async close() {
      await queue.close();
      await store.close();
      await deadLetters.close();
      db.close();
    },
  };
}
