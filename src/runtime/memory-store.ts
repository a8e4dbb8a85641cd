/** @module STORE=memory as a store recipe: lost with the process, and only this thread can reach it. */
import { createMemoryStore } from '../core/store/memory.ts';
import type { OpenStore, StoreRecipe } from './extension.ts';

export const openStore: OpenStore = () => {
  const store = createMemoryStore();
  return { store, close: () => store.close() };
};

export const memoryStoreRecipe: StoreRecipe = { module: import.meta.url, options: {}, threadable: false };
