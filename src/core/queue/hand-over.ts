/**
 * @module How every queue hands a batch over: to the handler until it resolves, again after a
 * pause when it throws, and never again once the queue closed (the batch then stays queued).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchHandler, QueuedBatch } from './queue.ts';

/**
 * Thrown by a handler that gives a batch back unfinished (a shutdown while the store is away): the
 * queue keeps it where it is, to hand over again, at the latest at the next start.
 */
export class HandBackError extends Error {
  override name = 'HandBackError';
}

/** A batch waiting in a queue. */
export interface WaitingBatch extends QueuedBatch {
  /** When the batch was accepted, epoch ms. */
  acceptedAt: number;
  /** How often it was handed over before (by an earlier process, for a durable queue or a spill). */
  handedOver: number;
}

export interface HandOverRules<Entry extends WaitingBatch> {
  handler: BatchHandler;
  redeliveryDelayMs: number;
  /** Once true, a failed attempt is not followed by another: the batch stays where it is. */
  isClosed(): boolean;
  /** Runs first in every attempt (to count it where a crash cannot lose the count); throwing fails the attempt. */
  beforeAttempt?(entry: Entry, attempt: number): unknown;
  /** Runs when the handler gives the batch back unfinished (HandBackError): to undo that count. */
  onHandBack?(entry: Entry, attempt: number): unknown;
}

/**
 * Hands `entry` over until the handler resolves (true), or until a failed attempt finds the queue
 * closed (false: the caller leaves the batch queued). A handler that resolves after the queue
 * closed (a shutdown's deadline) also gives false: the shutdown counted the batch as left, so it
 * stays and the next start hands it over again, which changes nothing in the store.
 */
export async function handOverUntilDone<Entry extends WaitingBatch>(
  entry: Entry,
  rules: HandOverRules<Entry>,
): Promise<boolean> {
  const { messageId, users, body, receivedAt, acceptedAt } = entry;
  for (let attempt = entry.handedOver + 1; ; attempt += 1) {
    try {
      await rules.beforeAttempt?.(entry, attempt);
      await rules.handler({ messageId, users, body, receivedAt }, { attempt, acceptedAt });
      return !rules.isClosed();
    } catch (error) {
      // The handler owns apply retries and dead letters; this is "even that failed" (the dead
      // letters are down, the disk is full): try again rather than drop an acknowledged batch.
      if (error instanceof HandBackError) {
        await rules.onHandBack?.(entry, attempt);
        return false;
      }
      if (rules.isClosed()) return false;
      await sleep(rules.redeliveryDelayMs);
    }
  }
}
