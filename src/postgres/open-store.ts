/** @module STORE=postgres as a store recipe: each thread that opens it gets a pool of its own. */
import type { OpenStore, StoreRecipe } from '../runtime/extension.ts';
import { createPostgresStore, type PostgresStoreOptions } from './store.ts';

export const openStore: OpenStore = (options: PostgresStoreOptions) => {
  const store = createPostgresStore(options);
  return { store, close: () => store.close() };
};

export function postgresStoreRecipe(options: PostgresStoreOptions): StoreRecipe {
  // Four batches at once, as many as the pool has connections: different cohorts commit in parallel.
  return { module: import.meta.url, options, threadable: true };
}
