/** @module STORE=sqlite as a store recipe: the apply thread opens its own connection to the file. */
import { isMainThread } from 'node:worker_threads';
import type { OpenStore, StoreRecipe } from '../runtime/extension.ts';
import { useSqliteFile } from './shared-file.ts';
import { createSqliteStore } from './store.ts';

export const openStore: OpenStore = (options: { path: string }) => {
  const file = useSqliteFile(options.path);
  try {
    const store = createSqliteStore(file.db, {
      groupCommitUsers: isMainThread ? mainThreadGroup : threadGroup,
    });
    return {
      store,
      async close() {
        await store.close();
        await file.release();
      },
    };
  } catch (error) {
    void file.release();
    throw error;
  }
};

/**
 * Users a group commits at most. On the apply thread a backlog commits in large groups, which write
 * each B-tree page once for many users (docs/performance.md); on the event loop's thread a group
 * stays small, so that its commit never holds the acks for long.
 */
const threadGroup = 200_000;
const mainThreadGroup = 20_000;

/** QUEUE=memory hands the SQLite store this many batches at once, so commits can group (group-commit.ts). */
const groupCommitInFlight = 32;
/** The inbox (QUEUE=sqlite) reads until this many users are in hand: enough for a whole group and the next. */
const groupCommitInFlightUsers = 2 * threadGroup;

/** The recipe of STORE=sqlite on the file at `path`. */
export function sqliteStoreRecipe(path: string): StoreRecipe {
  return {
    module: import.meta.url,
    options: { path },
    // A second thread cannot open the same in-memory database.
    threadable: path !== ':memory:',
    inFlight: groupCommitInFlight,
    inFlightUsers: groupCommitInFlightUsers,
  };
}
