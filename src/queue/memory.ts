/**
 * @module The default queue: batches wait in process memory (p-queue) and are applied one at a
 * time. Fast and simple, but a killed process (kill -9, OOM) loses what it holds: use
 * QUEUE=sqlite or QUEUE=redis when that matters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import type { CohortBatch } from '../batch.ts';
import { UnavailableError } from '../errors.ts';
import type { AcceptOutcome, BatchHandler, BatchSource, Queue, QueueStats } from './queue.ts';
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
   * V8's old space and made garbage collection a fifth of the ack path's CPU (bench profile); one
   * flat string per batch costs the collector almost nothing. Parsing again costs CPU off the ack path.
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
  let handler: BatchHandler | undefined;
  let accepting = true;
  let closed = false;
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 1000;

  const run = async (
    load: () => CohortBatch,
    { messageId, rawBody, users, at }: { messageId: string; rawBody?: string; users: number; at: number },
  ) => {
    try {
      let batch: CohortBatch;
      try {
        batch = load();
      } catch (error) {
        await options.onUndecodable?.({ messageId, body: rawBody ?? '', reason: (error as Error).message });
        return;
      }
      // The handler owns apply retries and dead letters; if even that fails (the dead-letter box is
      // down), deliver again rather than drop an acknowledged batch.
      for (let attempt = 1; ; attempt += 1) {
        try {
          // biome-ignore lint/style/noNonNullAssertion: tasks only start after consume() set it.
          return await handler!(batch, { attempt, acceptedAt: at });
        } catch {
          if (closed) return;
          await sleep(redeliveryDelayMs);
        }
      }
    } finally {
      waitingUsers -= users;
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
      const load = options.decodeBody && source ? reparse(options.decodeBody, source) : hold(batch);
      const entry = { messageId: batch.messageId, users, at, ...(source && { rawBody: source.rawBody }) };
      void tasks.add(() => run(load, entry));
      return 'accepted';
    },
    consume(batchHandler) {
      handler = batchHandler;
      tasks.start();
    },
    stopAccepting() {
      accepting = false;
    },
    async drain(timeoutMs) {
      if (tasks.size === 0 && tasks.pending === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const idle = tasks.onIdle().then(() => true);
      try {
        return await Promise.race([idle, timedOut]);
      } finally {
        clearTimeout(timer);
      }
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
