/**
 * @module The default queue: batches wait in process memory (p-queue) and are applied one at a
 * time. Fast and simple, but a killed process (kill -9, OOM) loses what it holds: use
 * QUEUE=sqlite or QUEUE=redis when that matters.
 */
import PQueue from 'p-queue';
import type { CohortBatch } from '../batch.ts';
import { UnavailableError } from '../errors.ts';
import { type DeliveryRules, deliverUntilHandled, type QueuedEntry, waitUntil } from './delivery.ts';
import type { AcceptOutcome, BatchSource, Queue, QueueStats } from './queue.ts';
import { SeenIds } from './seen-ids.ts';
import type { BodyDecoder, UndecodableHandler } from './stored-batch.ts';

export interface MemoryQueueOptions {
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Users waiting before `accept` answers queue_full. One batch is always let in when empty. */
  maxUsers: number;
  /** @default 1_000_000 */
  maxRememberedIds?: number;
  /**
   * When set, a batch accepted with its source waits as its raw text and is parsed again when its
   * turn comes. Thousands of parsed user objects per batch, held for the whole wait, survive into
   * V8's old space and make garbage collection a large share of the ack path's CPU; one flat string
   * per batch costs the collector almost nothing. Parsing again costs CPU off the ack path.
   */
  decodeBody?: BodyDecoder;
  /** Where a kept body that no longer parses goes (it cannot happen with the same parser). */
  onUndecodable?: UndecodableHandler;
  /** Wait before delivering again a batch whose handler threw. @default 1000 */
  redeliveryDelayMs?: number;
  now?: () => number;
}

export function createMemoryQueue(options: MemoryQueueOptions): Queue {
  const now = options.now ?? Date.now;
  const seen = new SeenIds({
    ttlMs: options.dedupeTtlSeconds * 1000,
    ...(options.maxRememberedIds === undefined ? {} : { maxIds: options.maxRememberedIds }),
    now,
  });
  // Concurrency 1 keeps apply order = accept order and one store transaction at a time.
  const tasks = new PQueue({ concurrency: 1, autoStart: false });
  // Accept times of waiting batches, oldest first; a head index instead of shift() keeps it O(1).
  const acceptedAt: number[] = [];
  let head = 0;
  let waitingUsers = 0;
  let rules: DeliveryRules<QueuedEntry> | undefined;
  let accepting = true;
  let closed = false;
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 1000;

  const run = async (entry: QueuedEntry & { users: number }) => {
    try {
      // biome-ignore lint/style/noNonNullAssertion: tasks only start after consume() set them.
      await deliverUntilHandled(entry, rules!);
    } finally {
      waitingUsers -= entry.users;
      head += 1;
      if (head > 1024 && head * 2 > acceptedAt.length) {
        acceptedAt.splice(0, head);
        head = 0;
      }
    }
  };

  return {
    async accept(batch, source): Promise<AcceptOutcome> {
      if (!accepting) throw new UnavailableError('shutting_down');
      if (seen.has(batch.messageId)) return 'duplicate';
      if (waitingUsers > 0 && waitingUsers + batch.users.length > options.maxUsers) {
        throw new UnavailableError('queue_full');
      }
      seen.add(batch.messageId);
      const at = now();
      acceptedAt.push(at);
      const users = batch.users.length;
      waitingUsers += users;
      const entry = {
        messageId: batch.messageId,
        body: source?.rawBody ?? '',
        acceptedAt: at,
        firstAttempt: 1,
        decode: options.decodeBody && source ? reparse(options.decodeBody, source) : hold(batch),
        users,
      };
      void tasks.add(() => run(entry));
      return 'accepted';
    },
    consume(handler) {
      rules = { handler, onUndecodable: options.onUndecodable, redeliveryDelayMs, isClosed: () => closed };
      tasks.start();
    },
    stopAccepting() {
      accepting = false;
    },
    drain(timeoutMs) {
      return waitUntil(() => tasks.size === 0 && tasks.pending === 0, timeoutMs);
    },
    async stats(): Promise<QueueStats> {
      const oldest = acceptedAt[head];
      return {
        batches: tasks.size + tasks.pending,
        users: waitingUsers,
        oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000),
      };
    },
    async check() {
      if (!accepting) throw new Error('shutting down');
    },
    async close() {
      accepting = false;
      closed = true;
      tasks.pause();
      tasks.clear();
    },
  };
}

// Two separate functions on purpose: closures made in one scope share its context, so a re-parsing
// closure made beside `() => batch` would keep the parsed batch alive after all.
function hold(batch: CohortBatch): () => CohortBatch {
  return () => batch;
}

function reparse(decodeBody: BodyDecoder, source: BatchSource): () => CohortBatch {
  const { rawBody, receivedAtMs } = source;
  return () => decodeBody(rawBody, receivedAtMs);
}
