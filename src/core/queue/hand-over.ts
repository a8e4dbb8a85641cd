/**
 * @module How all three queues deliver: the handler gets a batch until it resolves, again after a
 * pause when it throws, and an entry that no longer parses is set aside instead of delivered.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { UndecodableHandler } from '../../runtime/stored-batch.ts';
import type { CohortBatch } from '../batch.ts';
import { oneTurnEach } from '../event-loop-turns.ts';
import type { BatchHandler, BatchSource } from './queue.ts';

/** A batch waiting in a queue, as the delivery loop sees it. */
export interface QueuedEntry {
  messageId: string;
  /** What the entry is kept as, handed to `onUndecodable` when it cannot be read back. */
  body: string;
  /** When the batch was accepted (epoch ms). */
  acceptedAt: number;
  /** The attempt number of this first delivery: 1, or more when a durable queue delivered it before. */
  firstAttempt: number;
  /** Reads the batch back. @throws when it no longer parses (a parser grown stricter since). */
  decode(): CohortBatch;
  /** The raw body `decode` parses, when the entry is kept as one (passed on to the handler). */
  source?: BatchSource | undefined;
  /** Its users, when known without parsing them (passed on to the handler). */
  users?: number | undefined;
}

export interface DeliveryRules<Entry extends QueuedEntry> {
  handler: BatchHandler;
  onUndecodable: UndecodableHandler | undefined;
  redeliveryDelayMs: number;
  /** Once true, a failed attempt is not followed by another: the entry stays where it is. */
  isClosed(): boolean;
  /** Runs first in every attempt (to count it where a crash cannot lose the count); throwing fails the attempt. */
  beforeAttempt?(entry: Entry, attempt: number): unknown;
}

/**
 * Delivers `entry` until the handler resolves or the entry is set aside (true), or until a failed
 * attempt finds the queue closed (false: the caller leaves the entry queued).
 */
export async function deliverUntilHandled<Entry extends QueuedEntry>(
  entry: Entry,
  rules: DeliveryRules<Entry>,
): Promise<boolean> {
  for (let attempt = entry.firstAttempt; ; attempt += 1) {
    try {
      await rules.beforeAttempt?.(entry, attempt);
      await handOver(entry, attempt, rules);
      return true;
    } catch {
      // The handler owns apply retries and dead letters; this is "even that failed" (the dead
      // letters are down, the file is busy): deliver again rather than drop an acknowledged batch.
      if (rules.isClosed()) return false;
      await sleep(rules.redeliveryDelayMs);
    }
  }
}

/**
 * One batch parsed per turn of the event loop, so the requests waiting are answered between one
 * parse and the next: a store that finishes many batches at once (a group commit) would otherwise
 * have them all parsed in one stretch, and every webhook arriving meanwhile would wait for it.
 */
const nextParseTurn = oneTurnEach();

async function handOver<Entry extends QueuedEntry>(
  entry: Entry,
  attempt: number,
  rules: DeliveryRules<Entry>,
) {
  await nextParseTurn();
  let batch: CohortBatch;
  try {
    batch = entry.decode();
  } catch (error) {
    await rules.onUndecodable?.({
      messageId: entry.messageId,
      body: entry.body,
      reason: (error as Error).message,
    });
    return;
  }
  const { acceptedAt, source, users } = entry;
  await rules.handler(batch, { attempt, acceptedAt, source, users });
}

/**
 * Resolves true as soon as `done()` holds, false once `timeoutMs` of real time passed first (a
 * shutdown deadline, so not the queue's injectable clock).
 */
export async function waitUntil(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(10);
  }
}
