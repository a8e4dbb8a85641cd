/**
 * @module The default queue: batches wait in process memory (p-queue) and are handed to the worker
 * in accept order. Fast and simple, but a killed process (kill -9, OOM) loses what it holds: use
 * QUEUE=sqlite or QUEUE=redis when that matters. A shutdown loses nothing: what it could not apply
 * in time goes to the spill (memory-spill.ts) and is applied first at the next start.
 */
import PQueue from 'p-queue';
import {
  type BodyDecoder,
  fromStoredBatch,
  type StoredBatch,
  sourceOf,
  type UndecodableHandler,
} from '../../runtime/stored-batch.ts';
import type { MemorySpill } from '../../sqlite/memory-spill.ts';
import type { CohortBatch, CohortUser } from '../batch.ts';
import { UnavailableError } from '../errors.ts';
import { type DeliveryRules, deliverUntilHandled, type QueuedEntry, waitUntil } from './hand-over.ts';
import type { AcceptOutcome, BatchSource, Queue, QueueStats } from './queue.ts';
import { SeenIds } from './seen-ids.ts';

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
  /**
   * Batches handed to the handler before the first resolves. Handlers start in accept order; more
   * than one lets a store that groups commits (the SQLite store) put several in one transaction.
   * @default 1
   */
  maxInFlight?: number;
  /**
   * Where `close` keeps the batches not applied yet, and where they are read back (and delivered
   * first, as deliveries again) when the queue is created. Without it, closing drops them.
   */
  spill?: MemorySpill;
  now?: () => number;
}

/** A waiting batch, and how to keep it if the queue closes first. */
type Entry = QueuedEntry & { users: number; keep(): StoredBatch; spillId?: number | undefined };

export function createMemoryQueue(options: MemoryQueueOptions): Queue {
  const now = options.now ?? Date.now;
  const seen = new SeenIds({
    ttlMs: options.dedupeTtlSeconds * 1000,
    ...(options.maxRememberedIds === undefined ? {} : { maxIds: options.maxRememberedIds }),
    now,
  });
  const tasks = new PQueue({ concurrency: options.maxInFlight ?? 1, autoStart: false });
  // Accept times of waiting batches, oldest first; a head index instead of shift() keeps it O(1).
  const acceptedAt: number[] = [];
  let head = 0;
  let waitingUsers = 0;
  /** Accepted and not handled yet (waiting or in flight): what a close must keep. */
  const unfinished = new Set<Entry>();
  let rules: DeliveryRules<QueuedEntry> | undefined;
  let accepting = true;
  let closed = false;
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 1000;
  const { spill } = options;

  const run = async (entry: Entry) => {
    try {
      // biome-ignore lint/style/noNonNullAssertion: tasks only start after consume() set them.
      if (!(await deliverUntilHandled(entry, rules!))) return;
      unfinished.delete(entry);
      if (entry.spillId !== undefined) forget(entry.spillId);
    } finally {
      waitingUsers -= entry.users;
      head += 1;
      if (head > 1024 && head * 2 > acceptedAt.length) {
        acceptedAt.splice(0, head);
        head = 0;
      }
    }
  };

  const enqueue = (entry: Entry) => {
    acceptedAt.push(entry.acceptedAt);
    waitingUsers += entry.users;
    unfinished.add(entry);
    void tasks.add(() => run(entry));
  };

  // A handler still running when the queue closed may finish after the file is closed: its spilled
  // copy is then applied again at the next start, which changes nothing (the register is idempotent).
  const forget = (id: number) => {
    try {
      spill?.remove(id);
    } catch {}
  };

  // A previous process's backlog first: delivered again (restated), since it may have been applied
  // in part before that process stopped.
  for (const kept of spill?.load() ?? []) {
    seen.add(kept.messageId);
    enqueue({
      messageId: kept.messageId,
      body: kept.stored.body,
      acceptedAt: kept.acceptedAt,
      firstAttempt: 2,
      users: kept.users,
      ...readBack(kept.stored, options.decodeBody),
      spillId: kept.id,
    });
  }

  return {
    async accept(batch, source): Promise<AcceptOutcome> {
      if (!accepting) throw new UnavailableError('shutting_down');
      if (seen.has(batch.messageId)) return 'duplicate';
      if (waitingUsers > 0 && waitingUsers + batch.users.length > options.maxUsers) {
        throw new UnavailableError('queue_full');
      }
      seen.add(batch.messageId);
      enqueue({
        messageId: batch.messageId,
        body: source?.rawBody ?? '',
        acceptedAt: now(),
        firstAttempt: 1,
        users: batch.users.length,
        ...(options.decodeBody && source ? reparse(options.decodeBody, source, batch) : hold(batch, now())),
      });
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
      // Nothing consumes here (ROLE=receiver): no wait would ever end, and close() keeps every batch.
      if (rules === undefined && !accepting && spill !== undefined) return Promise.resolve(true);
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
      if (closed) return;
      accepting = false;
      closed = true;
      tasks.pause();
      tasks.clear();
      if (spill === undefined) return;
      // In accept order; a batch read back from the spill is still there.
      const toKeep = [...unfinished].filter((entry) => entry.spillId === undefined);
      const ids = spill.save(
        toKeep.map((entry) => ({
          messageId: entry.messageId,
          users: entry.users,
          acceptedAt: entry.acceptedAt,
          stored: entry.keep(),
        })),
      );
      toKeep.forEach((entry, index) => {
        entry.spillId = ids[index];
      });
    },
  };
}

// Separate functions on purpose: closures made in one scope share its context, so a re-parsing
// closure made beside `() => batch` would keep the parsed batch alive after all.
function hold(batch: CohortBatch, acceptedAt: number): Pick<Entry, 'decode' | 'keep' | 'source'> {
  return {
    decode: () => batch,
    keep: () => ({ format: 'batch', body: JSON.stringify(batch), receivedAtMs: acceptedAt }),
  };
}

/**
 * Keeps the raw text and the batch's few envelope fields; its users are parsed again only when read.
 * A store on the apply thread never reads them here: it parses the text on its own thread.
 */
function reparse(
  decodeBody: BodyDecoder,
  source: BatchSource,
  accepted: CohortBatch,
): Pick<Entry, 'decode' | 'keep' | 'source'> {
  const { rawBody, receivedAtMs } = source;
  const { cohortId, cohortName, inCohort, computedTime, messageId } = accepted;
  const envelope = { cohortId, cohortName, inCohort, computedTime, messageId };
  return {
    source: { rawBody, receivedAtMs },
    decode: () => withUsersParsedOnRead(envelope, () => decodeBody(rawBody, receivedAtMs).users),
    keep: () => ({ format: 'raw', body: rawBody, receivedAtMs }),
  };
}

function readBack(
  stored: StoredBatch,
  decodeBody: BodyDecoder | undefined,
): Pick<Entry, 'decode' | 'keep' | 'source'> {
  return { decode: () => fromStoredBatch(stored, decodeBody), keep: () => stored, source: sourceOf(stored) };
}

/** `envelope` with `users` read by `readUsers` on first access (the same parser accepted them, so it cannot fail). */
function withUsersParsedOnRead(
  envelope: Omit<CohortBatch, 'users'>,
  readUsers: () => CohortUser[],
): CohortBatch {
  let users: CohortUser[] | undefined;
  return {
    ...envelope,
    get users() {
      users ??= readUsers();
      return users;
    },
  };
}
