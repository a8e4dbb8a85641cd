/**
 * @module The embedded backend, two SQLite files. The inbox (SQLITE_INBOX_PATH) is the default
 * queue, QUEUE=sqlite: every accepted body is in it before the 200; it also keeps the dedupe marks,
 * the dead letters, and what a shutdown of QUEUE=memory could not apply. The store
 * (SQLITE_PATH, STORE=sqlite) keeps membership. Apart, an ack never waits for the store's commits.
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import type { CoreConfig } from '../runtime/core-config.ts';
import { defineExtension, type OpenContext, queueIn, type StoreRecipe } from '../runtime/extension.ts';
import { integer } from '../runtime/settings.ts';
import { createSqliteDeadLetters } from './dead-letters.ts';
import { createSqliteSpill, moveSpillIntoInbox, takeUpSpillFilesInto } from './memory-spill.ts';
import { moveQueueTables } from './move-queue-tables.ts';
import { sqliteStoreRecipe } from './open-store.ts';
import { createSqliteQueue } from './queue.ts';
import { useSqliteFile } from './shared-file.ts';

const gib = 1024 ** 3;

const settings = z.object({
  SQLITE_PATH: z.string().min(1).default('./data/cohorts.db'),
  /** Unset: beside the store's file, `cohorts.db` → `cohorts.inbox.db`. */
  SQLITE_INBOX_PATH: z.string().min(1).optional(),
  // The inbox is bounded by disk, not memory: bodies waiting, and the free space it leaves.
  QUEUE_MAX_BYTES: integer(16 * gib, 1),
  QUEUE_MIN_FREE_BYTES: integer(gib, 0),
});

export const sqlite = defineExtension({
  name: 'sqlite',
  settings,
  use({ SQLITE_PATH: storePath, SQLITE_INBOX_PATH, QUEUE_MAX_BYTES, QUEUE_MIN_FREE_BYTES }) {
    const path = SQLITE_INBOX_PATH ?? inboxBeside(storePath);
    const where = (config: CoreConfig) => `SQLite ${path} (QUEUE=${config.QUEUE})`;
    /** The inbox file, with the dead letters in it; released last. */
    const openFile = ({ config, logger }: OpenContext) => {
      const file = useSqliteFile(path, logger);
      const deadLetters = createSqliteDeadLetters(file.db, { maxPerKind: config.QUARANTINE_MAX });
      return {
        db: file.db,
        deadLetters,
        home: { kind: 'sqlite' as const, db: file.db },
        async close() {
          await deadLetters.close();
          await file.release();
        },
      };
    };
    /** What the store's file kept of the queue before the inbox had a file of its own. */
    const moveOldTables = (file: ReturnType<typeof openFile>, { logger }: OpenContext) => {
      const moved = moveQueueTables(file.db, storePath);
      if (Object.keys(moved).length > 0) {
        logger.info({ from: storePath, to: path, rows: moved }, 'moved the queue out of the store file');
      }
    };
    return {
      queues: {
        sqlite: {
          where,
          async open(context) {
            const file = openFile(context);
            const queue = createSqliteQueue(file.db, {
              dedupeTtlSeconds: context.config.DEDUPE_TTL_SECONDS,
              maxBytes: QUEUE_MAX_BYTES,
              minFreeBytes: QUEUE_MIN_FREE_BYTES,
              directory: path === ':memory:' ? undefined : dirname(path),
              ...inFlightOf(context.storeRecipe),
            });
            moveOldTables(file, context);
            if (path !== ':memory:') takeUpSpillFilesInto(file.db, path, context.logger);
            // What a shutdown of QUEUE=memory kept goes into the inbox, to be applied like the rest.
            const spilled = moveSpillIntoInbox(file.db);
            if (spilled > 0)
              context.logger.info({ batches: spilled }, 'moved what QUEUE=memory kept into the inbox');
            return queueIn(file, queue);
          },
        },
      },
      stores: { sqlite: () => sqliteStoreRecipe(storePath) },
      embeddedHome: {
        where,
        open(context) {
          const file = openFile(context);
          const durable = path !== ':memory:';
          const spill = createSqliteSpill(file.db, durable ? path : undefined);
          moveOldTables(file, context);
          if (durable) takeUpSpillFilesInto(file.db, path, context.logger);
          return { ...file, spill };
        },
      },
    };
  },
});

/** The inbox's file beside the store's, so that each SQLITE_PATH has its own inbox. */
export function inboxBeside(storePath: string): string {
  if (storePath === ':memory:') return storePath;
  return `${storePath.replace(/\.(db|sqlite3?)$/, '')}.inbox.db`;
}

/** What the inbox hands over at once: bounded in users when the store asks it to be. */
function inFlightOf(recipe: StoreRecipe) {
  if (recipe.inFlightUsers === undefined) return { inFlight: recipe.inFlight ?? 1 };
  return { inFlight: 4096, inFlightUsers: recipe.inFlightUsers };
}
