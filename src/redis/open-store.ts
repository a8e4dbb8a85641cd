/** @module STORE=redis as a store recipe: each thread that opens it gets a client of its own. */
import type { OpenStore, StoreRecipe } from '../runtime/extension.ts';
import { createRedisStore, type RedisStoreOptions } from './store.ts';

export const openStore: OpenStore = (options: RedisStoreOptions) => {
  const store = createRedisStore(options);
  return { store, close: () => store.close() };
};

export function redisStoreRecipe(options: RedisStoreOptions): StoreRecipe {
  return { module: import.meta.url, options, threadable: true };
}
