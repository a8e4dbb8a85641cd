/**
 * @module The Queue port. Accepting is where dedupe happens: only the queue can make "remember this
 * message_id" and "enqueue this batch" one atomic step, so there is no separate deduper port.
 */
import type { CohortBatch } from '../batch.ts';

export type AcceptOutcome = 'accepted' | 'duplicate';

/** Called by the queue for each batch; the batch leaves the queue only when this resolves. */
export type BatchHandler = (batch: CohortBatch, delivery: DeliveryInfo) => Promise<void>;

export interface DeliveryInfo {
  /** 1 on the first delivery; more when a durable queue redelivers after a crash. */
  attempt: number;
  /** When the batch was accepted (epoch ms), to measure apply lag. */
  acceptedAt: number;
  /** The text the batch was just parsed from, when the queue kept that rather than the batch. */
  source?: BatchSource | undefined;
  /** How many users it carries, when the queue knows without reading `batch.users` (which may parse them). */
  users?: number | undefined;
}

/**
 * The exact text a batch was parsed from and when it arrived. A queue may keep these instead of
 * `JSON.stringify(batch)`, which would cost the ack path a large share of what parsing did; the
 * worker parses the text again with the same parser, off the ack path.
 */
export interface BatchSource {
  rawBody: string;
  receivedAtMs: number;
}

export interface QueueStats {
  batches: number;
  users: number;
  /** Age in seconds of the oldest batch still waiting; 0 when empty. */
  oldestAgeSeconds: number;
}

export interface Queue {
  /**
   * Accepts a batch once per messageId within the dedupe TTL. Resolves only once the batch is as
   * safe as the mode promises (held in memory, committed to SQLite, acknowledged by Redis).
   * `source`, when given, is what `batch` was parsed from; a queue may keep it instead of the batch.
   * @throws UnavailableError when full, when a backend is down, or while shutting down.
   */
  accept(batch: CohortBatch, source?: BatchSource): Promise<AcceptOutcome>;
  /**
   * Enqueues a batch without the dedupe check and whatever the bound: how `npm run dlq -- replay`
   * hands a dead letter back to the workers. Only the durable queues have it: another process
   * (the CLI) can reach them.
   */
  requeue?(batch: CohortBatch): Promise<void>;
  /** Starts handing batches to `handler`. Call once. */
  consume(handler: BatchHandler): void;
  /** Stops accepting (accept then throws `shutting_down`); consuming goes on until `close`. */
  stopAccepting(): void;
  /**
   * Resolves true when nothing is waiting or in flight, false if `timeoutMs` passed first. After
   * `stopAccepting` (a shutdown), a durable queue waits only for the batches this process holds:
   * the rest is safe in SQLite or Redis and is taken up after a restart or by another worker. So
   * does a memory queue nothing consumes (ROLE=receiver): it holds nothing in flight, and its `close`
   * keeps every waiting batch in the spill.
   */
  drain(timeoutMs: number): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /** Resolves when the queue can accept; throws with a reason otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
