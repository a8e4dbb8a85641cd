/**
 * @module The one connection per file a thread shares between the inbox, the dead letters, the
 * spill and the store's reads, with its background checkpointer; closed when its last user lets go.
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { startWalCheckpointer } from './checkpointer.ts';
import { openSqliteDatabase } from './database.ts';

interface Shared {
  db: Database;
  users: number;
  close(): Promise<void>;
}

const open = new Map<string, Shared>();

/** The file at `path`, opened on first use in this thread; `release` once done with it. */
export function useSqliteFile(path: string, logger?: Logger): { db: Database; release(): Promise<void> } {
  let shared = open.get(path);
  if (shared === undefined || !shared.db.open) {
    const db = openSqliteDatabase(path);
    const checkpointer = db.memory
      ? undefined
      : startWalCheckpointer(
          path,
          (reason) =>
            logger?.warn(
              { path, reason },
              'background WAL checkpoints stopped; commits checkpoint on the event loop',
            ),
          {
            failing: (reason) =>
              logger?.error(
                { path, reason },
                'WAL checkpoints failing; retrying every 50 ms until they succeed',
              ),
            recovered: () => logger?.info({ path }, 'WAL checkpoints succeed again'),
          },
        );
    shared = {
      db,
      users: 0,
      async close() {
        await checkpointer?.close();
        db.close();
      },
    };
    // An in-memory database is one per connection: never shared, or two parts would see one another's tables.
    if (!db.memory) open.set(path, shared);
  }
  const used = shared;
  used.users += 1;
  let released = false;
  return {
    db: used.db,
    async release() {
      if (released) return;
      released = true;
      used.users -= 1;
      if (used.users > 0) return;
      if (open.get(path) === used) open.delete(path);
      await used.close();
    },
  };
}
