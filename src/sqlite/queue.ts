/**
 * @module QUEUE=sqlite: an inbox table in the SQLite file. The dedupe mark and the inbox row are
 * written in one transaction before the 200, so a killed process neither drops an acknowledged batch
 * nor forgets a message_id; a restart resumes from the inbox. Nothing to install, one machine.
 * The producing side is sqlite-producer.ts, the consuming side sqlite-consumer.ts.
 */
import type { Database } from 'better-sqlite3';
import type { CohortBatch } from '../core/batch.ts';
import type { Queue } from '../core/queue/queue.ts';
import { composeQueue } from '../runtime/durable-queue.ts';
import type { BodyDecoder, UndecodableHandler } from '../runtime/stored-batch.ts';
import { createSqliteConsumer } from './inbox-consumer.ts';
import { createSqliteProducer } from './inbox-producer.ts';
import { createQueueTables } from './inbox-schema.ts';

export interface SqliteQueueOptions {
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Users waiting before `accept` answers queue_full. One batch is always let in when empty. */
  maxUsers: number;
  /** Reads back the raw bodies `accept` was given; without it the batch is kept as JSON. */
  decodeBody?: BodyDecoder;
  /** Where an entry goes that cannot be read back (a parser grown stricter since it was accepted). */
  onUndecodable: UndecodableHandler;
  /** Wait before delivering again a batch whose handler threw. @default 1000 */
  redeliveryDelayMs?: number;
  /** How often an idle consumer looks for rows another process (the dlq CLI) inserted. @default 250 */
  pollIntervalMs?: number;
  /** How often expired dedupe marks are deleted. @default 60_000 */
  purgeIntervalMs?: number;
  now?: () => number;
}

/** The SQLite queue, plus the hook that makes apply and inbox removal one transaction. */
export interface SqliteQueue extends Queue {
  requeue(batch: CohortBatch): Promise<void>;
  /**
   * Runs `apply` (a synchronous write to the same database) in one transaction with the removal of
   * the inbox row of the batch being delivered, when `messageId` is that batch's: the store update
   * and the removal commit together, so no crash can make the inbox deliver an applied batch again.
   * For any other message_id (a replay applied directly) it just runs `apply`.
   */
  completeWith<T>(messageId: string, apply: () => T): T;
}

/** The caller owns `db` (opened with openSqliteDatabase: WAL) and closes it after `close()`. */
export function createSqliteQueue(db: Database, options: SqliteQueueOptions): SqliteQueue {
  const now = options.now ?? Date.now;
  createQueueTables(db);
  const consumer = createSqliteConsumer(db, {
    decodeBody: options.decodeBody,
    onUndecodable: options.onUndecodable,
    redeliveryDelayMs: options.redeliveryDelayMs ?? 1000,
    pollIntervalMs: options.pollIntervalMs ?? 250,
    onRemoved: (users) => producer.removed(users),
  });
  const producer = createSqliteProducer(db, {
    dedupeTtlSeconds: options.dedupeTtlSeconds,
    maxUsers: options.maxUsers,
    decodeBody: options.decodeBody,
    purgeIntervalMs: options.purgeIntervalMs ?? 60_000,
    onEnqueued: consumer.wake,
    now,
  });
  return { ...composeQueue(producer, consumer), completeWith: consumer.completeWith };
}
