/**
 * @module Exactly-once apply on one machine: with QUEUE=sqlite and STORE=sqlite in one file, a batch's
 * store update and the removal of its inbox row are one transaction.
 */
import type { SqliteStore } from '../store/sqlite.ts';
import type { MembershipStore } from '../store/store.ts';
import type { SqliteQueue } from './sqlite.ts';

/**
 * Wraps the store the worker applies through: `applyBatch` of the batch being delivered commits with
 * the removal of its inbox row (see {@link SqliteQueue.completeWith}), so neither a crash before the
 * commit (the row stays: applied once, later) nor one after it (the row is gone: never again) can
 * apply it twice. The queue's own removal after the handler resolves then has nothing left to do.
 * Both must use the same connection: a transaction cannot span two.
 */
export function applyingFromInbox(store: SqliteStore, queue: SqliteQueue): MembershipStore {
  return {
    ...store,
    async applyBatch(batch, options) {
      return queue.completeWith(batch.messageId, () => store.applyBatchSync(batch, options));
    },
  };
}
