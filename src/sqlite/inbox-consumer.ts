/**
 * @module The SQLite queue's consuming side: delivers the inbox's head row until its handler
 * resolves, then removes it, either after the handler or inside the store's own transaction
 * (`completeWith`, the exactly-once hook); looks again when woken, or after a pause for rows another
 * process added.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { type DeliveryRules, deliverUntilHandled, type QueuedEntry } from '../core/queue/hand-over.ts';
import type { QueueConsumer } from '../runtime/durable-queue.ts';
import {
  type BodyDecoder,
  fromStoredBatch,
  sourceOf,
  type UndecodableHandler,
} from '../runtime/stored-batch.ts';
import type { InboxRow } from './inbox-schema.ts';

export interface SqliteConsumerOptions {
  decodeBody: BodyDecoder | undefined;
  onUndecodable: UndecodableHandler;
  redeliveryDelayMs: number;
  /** How often an idle consumer looks for rows another process (the dlq CLI) inserted. */
  pollIntervalMs: number;
  /** Told when a delivered row left the inbox, with its users. */
  onRemoved: (users: number) => void;
}

export interface SqliteConsumer extends QueueConsumer {
  /** Looks at the inbox at once instead of after the poll interval. */
  wake(): void;
  /** See SqliteQueue.completeWith. */
  completeWith<T>(messageId: string, apply: () => T): T;
}

const SELECT_HEAD =
  'SELECT id, message_id, users, accepted_at, attempts, format, received_at, body FROM queue_inbox ORDER BY id LIMIT 1';

type InboxEntry = QueuedEntry & { id: number };

/** Expects the tables (`createQueueTables`). */
export function createSqliteConsumer(db: Database, options: SqliteConsumerOptions): SqliteConsumer {
  const { pollIntervalMs } = options;
  const selectHead = db.prepare<[], InboxRow>(SELECT_HEAD);
  const countAttempt = db.prepare<[number]>('UPDATE queue_inbox SET attempts = attempts + 1 WHERE id = ?');
  const deleteEntry = db.prepare<[number]>('DELETE FROM queue_inbox WHERE id = ?');
  const completeInTransaction = db.transaction((id: number, apply: () => unknown) => {
    deleteEntry.run(id);
    return apply();
  });

  let rules: DeliveryRules<InboxEntry> | undefined;
  let reading = true;
  let closed = false;
  let running = false;
  let delivering: { id: number; messageId: string; completed: boolean } | undefined;
  /** Set while the loop waits for work: ends the wait at once. */
  let endWait: (() => void) | undefined;
  const waitForWork = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endWait = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      endWait = undefined;
    });

  const toEntry = (row: InboxRow): InboxEntry => {
    const stored = { format: row.format, body: row.body, receivedAtMs: row.received_at };
    return {
      id: row.id,
      messageId: row.message_id,
      body: row.body,
      acceptedAt: row.accepted_at,
      firstAttempt: row.attempts + 1,
      decode: () => fromStoredBatch(stored, options.decodeBody),
      source: sourceOf(stored),
    };
  };

  /** Delivers the head row until its handler resolves, then removes it (unless `completeWith` did). */
  const deliver = async (row: InboxRow) => {
    const current = { id: row.id, messageId: row.message_id, completed: false };
    delivering = current;
    try {
      // biome-ignore lint/style/noNonNullAssertion: the loop only runs once start() set them.
      if (!(await deliverUntilHandled(toEntry(row), rules!))) return;
      if (!current.completed) deleteEntry.run(row.id);
      options.onRemoved(row.users);
    } finally {
      delivering = undefined;
    }
  };

  const deliveryLoop = async () => {
    while (!closed && reading) {
      let row: InboxRow | undefined;
      try {
        row = selectHead.get();
      } catch {
        row = undefined; // busy or closing: look again after a pause
      }
      if (row === undefined) await waitForWork(pollIntervalMs);
      else await deliver(row).catch(() => sleep(pollIntervalMs));
    }
  };

  return {
    start(handler) {
      const started = rules !== undefined;
      rules = {
        handler,
        onUndecodable: options.onUndecodable,
        redeliveryDelayMs: options.redeliveryDelayMs,
        isClosed: () => closed,
        // Counted before each attempt, in the file: a crash during it still counts.
        beforeAttempt: (entry) => countAttempt.run(entry.id),
      };
      if (started) return;
      running = true;
      void deliveryLoop().finally(() => {
        running = false;
      });
    },
    wake: () => endWait?.(),
    stopReading() {
      reading = false;
      endWait?.();
    },
    hasStopped: () => !running,
    holdsNothing: () => delivering === undefined,
    completeWith(messageId, apply) {
      const current = delivering;
      if (current?.messageId !== messageId) return apply();
      const result = completeInTransaction.immediate(current.id, apply);
      current.completed = true;
      return result as ReturnType<typeof apply>;
    },
    close() {
      closed = true;
      endWait?.();
    },
  };
}
