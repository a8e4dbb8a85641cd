/**
 * @module The embedded backend: one SQLite file (SQLITE_PATH) holds the store (STORE=sqlite), the
 * inbox (QUEUE=sqlite), the dead letters, and what a shutdown of QUEUE=memory could not apply.
 */
import { z } from 'zod';
import type { CoreConfig } from '../runtime/core-config.ts';
import { defineExtension, type OpenContext, queueIn } from '../runtime/extension.ts';
import { createSqliteDeadLetters } from './dead-letters.ts';
import { createSqliteSpill } from './memory-spill.ts';
import { sqliteStoreRecipe } from './open-store.ts';
import { createSqliteQueue } from './queue.ts';
import { useSqliteFile } from './shared-file.ts';

const settings = z.object({
  SQLITE_PATH: z.string().min(1).default('./data/cohorts.db'),
});

export const sqlite = defineExtension({
  name: 'sqlite',
  settings,
  use({ SQLITE_PATH: path }) {
    const where = (config: CoreConfig) => `SQLite ${path} (QUEUE=${config.QUEUE})`;
    /** The file, with the dead letters in it; released last. */
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
    return {
      queues: {
        sqlite: {
          where,
          async open(context) {
            const file = openFile(context);
            const queue = createSqliteQueue(file.db, {
              dedupeTtlSeconds: context.config.DEDUPE_TTL_SECONDS,
              maxUsers: context.config.QUEUE_MAX_USERS,
            });
            return queueIn(file, queue);
          },
        },
      },
      stores: { sqlite: () => sqliteStoreRecipe(path) },
      embeddedHome: {
        where,
        open(context) {
          const file = openFile(context);
          return { ...file, spill: createSqliteSpill(file.db) };
        },
      },
    };
  },
});
