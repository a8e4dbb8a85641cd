/**
 * @module The Queue port. Accepting is where dedupe happens: only the queue can make "remember this
 * message_id" and "enqueue this batch" one atomic step, so there is no separate deduper port.
 */

/**
 * A batch as queues keep it: the request body it arrived as, which the worker parses again when its
 * turn comes, and the little a queue must know without parsing it.
 */
export interface QueuedBatch {
  /** The dedupe key. */
  messageId: string;
  /** Users in the batch, counted against the queue's bound. */
  users: number;
  /** The body as received, UTF-8 text. */
  body: string;
  /** When it arrived, epoch ms (the per-user flag list takes its computed_time from it). */
  receivedAt: number;
}

export type AcceptOutcome = 'accepted' | 'duplicate';

/**
 * Where an accepted message stands: `waiting` (queued or being applied), `done` (applied, or set
 * aside as a dead letter: either way it left the queue), `unknown` (never accepted, or its dedupe
 * mark expired).
 */
export type MessageProgress = 'waiting' | 'done' | 'unknown';

/** The queue's hand-over of a batch to its handler. */
export interface HandOver {
  /** 1 the first time; more when it comes again (the handler threw, or a process died holding it). */
  attempt: number;
  /** When the batch was accepted, epoch ms: to measure apply lag. */
  acceptedAt: number;
}

/** Called by the queue for each batch; the batch leaves the queue only when this resolves. */
export type BatchHandler = (batch: QueuedBatch, handOver: HandOver) => Promise<void>;

export interface QueueStats {
  batches: number;
  users: number;
  /** Age in seconds of the oldest batch still waiting; 0 when empty. */
  oldestAgeSeconds: number;
  /** The share of the queue's bound in use (users, bytes, or the disk's free space): 503 at 1. */
  fullness: number;
}

export interface Queue {
  /**
   * Accepts a batch once per messageId within the dedupe TTL. Resolves only once the batch is as
   * safe as the queue promises (held in memory, written to disk, acknowledged by Redis).
   * @throws UnavailableError when full, when a backend is down, or while shutting down.
   */
  accept(batch: QueuedBatch): Promise<AcceptOutcome>;
  /**
   * Enqueues a batch without the dedupe check and whatever the bound: how a replayed dead letter
   * goes back to the workers. Only queues another process (the dlq CLI) can reach have it.
   */
  requeue?(batch: QueuedBatch): Promise<void>;
  /** Starts handing batches to `handler`. Call once. */
  consume(handler: BatchHandler): void;
  /** Stops accepting (accept then throws `shutting_down`); handing over goes on until `close`. */
  stopAccepting(): void;
  /**
   * Resolves true when nothing is waiting or in hand, false if `timeoutMs` passed first. After
   * `stopAccepting`, a durable queue waits only for the batches this process holds: the rest is
   * safe in its backend. So does a memory queue nothing consumes: its `close` keeps every batch.
   */
  drain(timeoutMs: number): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /**
   * Where `messageId` stands, as the backend says, so a process that did not accept or apply it
   * (a ROLE=worker beside receivers) knows too: how the read API reads its own writes (`?after=`).
   */
  progress?(messageId: string): Promise<MessageProgress>;
  /** Resolves when the queue can accept; throws with a reason otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
