/**
 * @module QUEUE=sqlite: an inbox table in the SQLite file. The dedupe mark and the inbox row are
 * written in one transaction before the 200, so a killed process neither drops an acknowledged batch
 * nor forgets a message_id; a restart resumes from the inbox. Nothing to install, one machine.
 * The producing side is inbox-producer.ts, the consuming side inbox-consumer.ts.
 */
import type { Database } from 'better-sqlite3';
import type { Queue } from '../core/queue/queue.ts';
import { composeQueue } from '../runtime/durable-queue.ts';
import { createSqliteConsumer } from './inbox-consumer.ts';
import { createSqliteProducer } from './inbox-producer.ts';
import { createQueueTables } from './inbox-schema.ts';

export interface SqliteQueueOptions {
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Bytes of bodies waiting before `accept` answers queue_full. One batch is always let in when empty. */
  maxBytes: number;
  /** Free bytes the file's disk keeps: below them `accept` answers queue_full. @default 0 */
  minFreeBytes?: number;
  /** Where the file is (for its disk's free space); undefined for an in-memory database. */
  directory?: string | undefined;
  /** Batches handed over at once. @default 1 */
  inFlight?: number;
  /** Users handed over at once, whatever the batches' sizes (one batch always goes). @default no bound */
  inFlightUsers?: number | undefined;
  /** Wait before handing over again a batch whose handler threw. @default 1000 */
  redeliveryDelayMs?: number;
  /** How often an idle consumer looks for rows another process (the dlq CLI) inserted. @default 250 */
  pollIntervalMs?: number;
  /** How often expired dedupe marks are deleted. @default 60_000 */
  purgeIntervalMs?: number;
  now?: () => number;
}

/** The caller owns `db` (opened with openSqliteDatabase: WAL) and closes it after `close()`. */
export function createSqliteQueue(
  db: Database,
  options: SqliteQueueOptions,
): Queue & Required<Pick<Queue, 'requeue'>> {
  const now = options.now ?? Date.now;
  createQueueTables(db);
  const consumer = createSqliteConsumer(db, {
    redeliveryDelayMs: options.redeliveryDelayMs ?? 1000,
    inFlight: options.inFlight ?? 1,
    inFlightUsers: options.inFlightUsers,
    pollIntervalMs: options.pollIntervalMs ?? 250,
    onRemoved: (bytes) => producer.removed(bytes),
  });
  const producer = createSqliteProducer(db, {
    dedupeTtlSeconds: options.dedupeTtlSeconds,
    maxBytes: options.maxBytes,
    minFreeBytes: options.minFreeBytes ?? 0,
    directory: options.directory,
    purgeIntervalMs: options.purgeIntervalMs ?? 60_000,
    onEnqueued: consumer.wake,
    now,
  });
  // Read-your-writes: accepted (a live dedupe mark) and no longer in the inbox means applied; both
  // looked up by index, in one statement, so both answers come from one snapshot of the file.
  const lookUp = db.prepare<[string, string, number], { waiting: number; seen: number }>(
    `SELECT EXISTS (SELECT 1 FROM queue_inbox WHERE message_id = ?) AS waiting,
            EXISTS (SELECT 1 FROM queue_seen WHERE message_id = ? AND expires_at > ?) AS seen`,
  );
  return {
    ...composeQueue(producer, consumer),
    async progress(messageId) {
      const found = lookUp.get(messageId, messageId, now());
      if (found?.waiting) return 'waiting';
      return found?.seen ? 'done' : 'unknown';
    },
  };
}
