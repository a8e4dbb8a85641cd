/**
 * @module Builds a MembershipStore from a plain description: how the apply thread makes its store,
 * and how compose makes one on the event loop when there is no thread. Plain data, so it crosses
 * to the thread as `workerData`.
 */

import { createMemoryStore } from '../core/store/memory.ts';
import type { MembershipStore } from '../core/store/store.ts';
import { createPostgresStore } from '../postgres/store.ts';
import { createRedisStore } from '../redis/store.ts';
import { openSqliteDatabase } from '../sqlite/database.ts';
import { createSqliteStore } from '../sqlite/store.ts';

export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; keyPrefix: string }
  | { kind: 'postgres'; connectionString: string; keyPrefix: string };

/** A store and everything opened for it; `close` closes both (the store first: it commits what waits). */
export interface OpenedStore {
  store: MembershipStore;
  close(): Promise<void>;
}

/** A SQLite store opens its own connection to the file (the thread's; compose shares the process's instead). */
export function openStore(spec: StoreSpec): OpenedStore {
  if (spec.kind === 'sqlite') {
    const db = openSqliteDatabase(spec.path);
    try {
      const store = createSqliteStore(db);
      return {
        store,
        async close() {
          await store.close();
          db.close();
        },
      };
    } catch (error) {
      db.close();
      throw error;
    }
  }
  const store =
    spec.kind === 'redis'
      ? createRedisStore({ url: spec.url, keyPrefix: spec.keyPrefix })
      : spec.kind === 'postgres'
        ? createPostgresStore({ connectionString: spec.connectionString, keyPrefix: spec.keyPrefix })
        : createMemoryStore();
  return { store, close: () => store.close() };
}
