/**
 * @module The SQLite queue's consuming side: hands the inbox's head row over until its handler
 * resolves, then removes it; looks again when woken, or after a pause for rows another process added.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { type HandOverRules, handOverUntilDone, type WaitingBatch } from '../core/queue/hand-over.ts';
import type { QueueConsumer } from '../runtime/durable-queue.ts';
import { queuedBody } from '../runtime/stored-batch.ts';
import type { InboxRow } from './inbox-schema.ts';

export interface SqliteConsumerOptions {
  redeliveryDelayMs: number;
  /** How often an idle consumer looks for rows another process (the dlq CLI) inserted. */
  pollIntervalMs: number;
  /** Told when a handed-over row left the inbox, with its users. */
  onRemoved: (users: number) => void;
}

export interface SqliteConsumer extends QueueConsumer {
  /** Looks at the inbox at once instead of after the poll interval. */
  wake(): void;
}

const SELECT_HEAD =
  'SELECT id, message_id, users, accepted_at, attempts, format, received_at, body FROM queue_inbox ORDER BY id LIMIT 1';

type InboxEntry = WaitingBatch & { id: number };

/** Expects the tables (`createQueueTables`). */
export function createSqliteConsumer(db: Database, options: SqliteConsumerOptions): SqliteConsumer {
  const { pollIntervalMs } = options;
  const selectHead = db.prepare<[], InboxRow>(SELECT_HEAD);
  const countAttempt = db.prepare<[number]>('UPDATE queue_inbox SET attempts = attempts + 1 WHERE id = ?');
  const deleteEntry = db.prepare<[number]>('DELETE FROM queue_inbox WHERE id = ?');

  let rules: HandOverRules<InboxEntry> | undefined;
  let reading = true;
  let closed = false;
  let running = false;
  let holding = false;
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

  const toEntry = (row: InboxRow): InboxEntry => ({
    id: row.id,
    messageId: row.message_id,
    users: row.users,
    body: queuedBody(row.format, row.body),
    receivedAt: row.received_at,
    acceptedAt: row.accepted_at,
    handedOver: row.attempts,
  });

  /** Hands the head row over until its handler resolves, then removes it. */
  const handOver = async (row: InboxRow) => {
    holding = true;
    try {
      // biome-ignore lint/style/noNonNullAssertion: the loop only runs once start() set them.
      if (!(await handOverUntilDone(toEntry(row), rules!))) return;
      deleteEntry.run(row.id);
      options.onRemoved(row.users);
    } finally {
      holding = false;
    }
  };

  const readLoop = async () => {
    while (!closed && reading) {
      let row: InboxRow | undefined;
      try {
        row = selectHead.get();
      } catch {
        row = undefined; // busy or closing: look again after a pause
      }
      if (row === undefined) await waitForWork(pollIntervalMs);
      else await handOver(row).catch(() => sleep(pollIntervalMs));
    }
  };

  return {
    start(handler) {
      const started = rules !== undefined;
      rules = {
        handler,
        redeliveryDelayMs: options.redeliveryDelayMs,
        isClosed: () => closed,
        // Counted before each attempt, in the file: a crash during it still counts.
        beforeAttempt: (entry) => countAttempt.run(entry.id),
      };
      if (started) return;
      running = true;
      void readLoop().finally(() => {
        running = false;
      });
    },
    wake: () => endWait?.(),
    stopReading() {
      reading = false;
      endWait?.();
    },
    hasStopped: () => !running,
    holdsNothing: () => !holding,
    close() {
      closed = true;
      endWait?.();
    },
  };
}
