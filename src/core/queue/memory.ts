/**
 * @module A queue in process memory (p-queue): batches are handed over in accept order. A killed
 * process (kill -9, OOM) loses what it holds; a shutdown loses nothing when it has a spill, where
 * `close` keeps what was not applied, handed over first at the next start.
 */
import PQueue from 'p-queue';
import { UnavailableError } from '../errors.ts';
import { type HandOverRules, handOverUntilDone, type WaitingBatch } from './hand-over.ts';
import type { Queue } from './queue.ts';
import { SeenIds } from './seen-ids.ts';

/** Where a closing memory queue keeps the batches it did not finish, to take them up at the next start. */
export interface MemorySpill {
  /** What earlier shutdowns kept, in accept order, each with the id `remove` takes. */
  load(): (WaitingBatch & { spillId: number })[];
  /**
   * Keeps `batches` in one transaction; returns their ids, in order.
   * @throws SpillError when they could not all be kept there, saying where the others went.
   */
  save(batches: readonly WaitingBatch[]): number[];
  /** Forgets a kept batch once it is applied. */
  remove(spillId: number): void;
}

/**
 * The spill could not keep every batch where it keeps them: `details` says how many went where
 * instead (a fallback) and how many were kept nowhere, for the shutdown's log line.
 */
export class SpillError extends Error {
  override name = 'SpillError';
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface MemoryQueueOptions {
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Users waiting before `accept` answers queue_full. One batch is always let in when empty. */
  maxUsers: number;
  /** @default 1_000_000 */
  maxRememberedIds?: number;
  /** Wait before handing over again a batch whose handler threw. @default 1000 */
  redeliveryDelayMs?: number;
  /**
   * Batches handed over before the first one resolves, in accept order. More than one lets a store
   * that groups commits (the SQLite store) put several in one transaction. @default 1
   */
  maxInFlight?: number;
  /** Without it, closing drops what was not applied. */
  spill?: MemorySpill | undefined;
  now?: () => number;
}

/**
 * Batches wait as their body's text, not as parsed objects: a flat string per batch costs the
 * garbage collector almost nothing, where thousands of user objects held for the whole wait would
 * be copied into the old space on the ack path's time.
 */
type Entry = WaitingBatch & { spillId?: number | undefined };

export function createMemoryQueue(options: MemoryQueueOptions): Queue {
  const now = options.now ?? Date.now;
  const seen = new SeenIds({
    ttlMs: options.dedupeTtlSeconds * 1000,
    ...(options.maxRememberedIds === undefined ? {} : { maxIds: options.maxRememberedIds }),
    now,
  });
  const tasks = new PQueue({ concurrency: options.maxInFlight ?? 1, autoStart: false });
  /** Accepted and not finished (waiting or in hand), in accept order: what a close must keep. */
  const unfinished = new Set<Entry>();
  let waitingUsers = 0;
  let rules: HandOverRules<Entry> | undefined;
  let accepting = true;
  let closed = false;
  const { spill } = options;

  const run = async (entry: Entry) => {
    // biome-ignore lint/style/noNonNullAssertion: tasks only start after consume() set the rules.
    if (!(await handOverUntilDone(entry, rules!))) return;
    unfinished.delete(entry);
    waitingUsers -= entry.users;
    if (entry.spillId !== undefined) {
      try {
        spill?.remove(entry.spillId);
      } catch {}
    }
  };
  const enqueue = (entry: Entry) => {
    unfinished.add(entry);
    waitingUsers += entry.users;
    void tasks.add(() => run(entry));
  };

  // A previous process's backlog first, handed over again: it may have been applied in part.
  for (const kept of spill?.load() ?? []) {
    seen.add(kept.messageId);
    enqueue(kept);
  }

  return {
    async accept(batch) {
      if (!accepting) throw new UnavailableError('shutting_down');
      if (seen.has(batch.messageId)) return 'duplicate';
      if (waitingUsers > 0 && waitingUsers + batch.users > options.maxUsers) {
        throw new UnavailableError('queue_full');
      }
      seen.add(batch.messageId);
      enqueue({ ...batch, acceptedAt: now(), handedOver: 0 });
      return 'accepted';
    },
    consume(handler) {
      rules = { handler, redeliveryDelayMs: options.redeliveryDelayMs ?? 1000, isClosed: () => closed };
      tasks.start();
    },
    stopAccepting() {
      accepting = false;
    },
    async drain(timeoutMs) {
      // Nothing consumes here (ROLE=receiver): no wait would ever end, and close() keeps every batch.
      if (rules === undefined && !accepting && spill !== undefined) return true;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, false);
      });
      // Idle is not drained when handlers gave batches back (a store away at shutdown): they remain.
      return Promise.race([tasks.onIdle().then(() => unfinished.size === 0), late]).finally(() =>
        clearTimeout(timer),
      );
    },
    async stats() {
      const oldest = unfinished.values().next().value;
      return {
        batches: unfinished.size,
        users: waitingUsers,
        fullness: waitingUsers / options.maxUsers,
        oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (now() - oldest.acceptedAt) / 1000),
      };
    },
    async progress(messageId) {
      if (!seen.has(messageId)) return 'unknown';
      for (const entry of unfinished) if (entry.messageId === messageId) return 'waiting';
      return 'done';
    },
    async check() {
      if (!accepting) throw new Error('shutting down');
    },
    async close() {
      if (closed) return;
      accepting = false;
      closed = true;
      tasks.pause();
      tasks.clear();
      if (spill === undefined) return;
      // In accept order; a batch read back from the spill is still there.
      const toKeep = [...unfinished].filter((entry) => entry.spillId === undefined);
      const ids = spill.save(toKeep);
      toKeep.forEach((entry, index) => {
        entry.spillId = ids[index];
      });
    },
  };
}
