/** @module STORE=sqlite as a store recipe: the apply thread opens its own connection to the file. */
import type { OpenStore, StoreRecipe } from '../runtime/extension.ts';
import { useSqliteFile } from './shared-file.ts';
import { createSqliteStore } from './store.ts';

export const openStore: OpenStore = (options: { path: string }) => {
  const file = useSqliteFile(options.path);
  try {
    const store = createSqliteStore(file.db);
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

/** QUEUE=memory hands the SQLite store this many batches at once, so commits can group (group-commit.ts). */
const groupCommitInFlight = 32;

/** The recipe of STORE=sqlite on the file at `path`. */
export function sqliteStoreRecipe(path: string): StoreRecipe {
  return {
    module: import.meta.url,
    options: { path },
    // A second thread cannot open the same in-memory database.
    threadable: path !== ':memory:',
    inFlight: groupCommitInFlight,
  };
}
