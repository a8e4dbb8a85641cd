/**
 * @module A durable queue (SQLite, Redis) as a producing side and a consuming side put together:
 * what the Queue port adds on top of them (refusing while shutting down, draining) is written here once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../core/errors.ts';
import type { AcceptOutcome, BatchHandler, Queue, QueuedBatch, QueueStats } from '../core/queue/queue.ts';

export interface QueueProducer {
  accept(batch: QueuedBatch): Promise<AcceptOutcome>;
  requeue(batch: QueuedBatch): Promise<void>;
  /** True when the backend holds no batch, in a consumer's hands or not. */
  isEmpty(): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /** Resolves when the backend answers; throws saying why not. */
  check(): Promise<void>;
  close(): void;
}

export interface QueueConsumer {
  /** Starts the delivery loop; a second call only swaps the handler. */
  start(handler: BatchHandler): void;
  /** Takes no more batches; the ones in hand are still delivered. */
  stopReading(): void;
  /** True once the loop ended (or never started): nothing in hand, nothing more taken. */
  hasStopped(): boolean;
  /** True when no batch taken from the backend waits for its handler. */
  holdsNothing(): boolean;
  /** Stops at once; a handler still running is not waited for. */
  close(): void;
}

/** Longer than one blocking read (XREADGROUP BLOCK 1 s) takes when the backend is up. */
const blockedReadGraceMs = 3000;

export function composeQueue(
  producer: QueueProducer,
  consumer: QueueConsumer,
): Queue & { requeue: QueueProducer['requeue'] } {
  let accepting = true;
  return {
    async accept(batch) {
      if (!accepting) throw new UnavailableError('shutting_down');
      return producer.accept(batch);
    },
    requeue: producer.requeue,
    consume: consumer.start,
    stopAccepting() {
      accepting = false;
    },
    async drain(timeoutMs) {
      if (!accepting) {
        // Shutting down: finish what this process holds; the rest is safe in the backend.
        consumer.stopReading();
        // A read blocked on a backend that is down may never return: once this process holds no
        // batch and the read had its time, stop waiting for it (the backend keeps the rest).
        const readGiveUpAt = Date.now() + blockedReadGraceMs;
        return waitUntil(
          () => consumer.hasStopped() || (consumer.holdsNothing() && Date.now() >= readGiveUpAt),
          timeoutMs,
        );
      }
      return waitUntil(async () => consumer.holdsNothing() && (await producer.isEmpty()), timeoutMs);
    },
    stats: producer.stats,
    async check() {
      if (!accepting) throw new Error('shutting down');
      await producer.check();
    },
    async close() {
      accepting = false;
      producer.close();
      consumer.close();
    },
  };
}

/**
 * Resolves true as soon as `done()` holds, false once `timeoutMs` of real time passed first: the
 * backend is asked, since other processes fill and empty it too.
 */
async function waitUntil(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(10);
  }
}
