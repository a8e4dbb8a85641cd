/**
 * @module The SQLite queue's producing side: accepting (the dedupe mark and the inbox row in one
 * transaction, shared by every accept of the same event-loop turn), requeueing a dead letter, the
 * bounds (bytes waiting, and free disk), purging expired marks, and what the inbox holds.
 */
import { statfsSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { UnavailableError } from '../core/errors.ts';
import type { AcceptOutcome, QueuedBatch } from '../core/queue/queue.ts';
import type { QueueProducer } from '../runtime/durable-queue.ts';

export interface SqliteProducerOptions {
  dedupeTtlSeconds: number;
  /** Bytes of bodies waiting before `accept` answers queue_full. One batch is always let in when empty. */
  maxBytes: number;
  /** Free bytes the disk must keep: below them `accept` answers queue_full. */
  minFreeBytes: number;
  /** Where the file is, to ask for its disk's free space; undefined for an in-memory database. */
  directory: string | undefined;
  /** How often expired dedupe marks are deleted. */
  purgeIntervalMs: number;
  /** Told after rows were added, to wake a waiting consumer. */
  onEnqueued: () => void;
  now: () => number;
}

// An expired mark counts as absent: the upsert takes it over, and `changes` says whether it did.
const MARK_SEEN = `
INSERT INTO queue_seen (message_id, expires_at) VALUES (?, ?)
ON CONFLICT (message_id) DO UPDATE SET expires_at = excluded.expires_at WHERE queue_seen.expires_at <= ?`;
const IS_SEEN = 'SELECT 1 FROM queue_seen WHERE message_id = ? AND expires_at > ?';
const INSERT_ENTRY = `
INSERT INTO queue_inbox (message_id, users, bytes, accepted_at, attempts, format, received_at, body)
VALUES (?, ?, ?, ?, 0, 'raw', ?, ?)`;
const PURGE_EXPIRED = `
DELETE FROM queue_seen WHERE message_id IN
  (SELECT message_id FROM queue_seen WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`;
const PURGE_CHUNK = 1000;
const PURGE_MAX_CHUNKS = 20;

interface PendingAccept {
  batch: QueuedBatch;
  outcome: AcceptOutcome | undefined;
  resolve: (outcome: AcceptOutcome) => void;
  reject: (error: Error) => void;
}

export interface SqliteProducer extends QueueProducer {
  /** Told when a delivered batch left the inbox, so the bound counts its bytes no more. */
  removed(bytes: number): void;
}

/**
 * How often the bounds' figures are read again (the disk's free space, the bytes another process
 * moved): a statfs or a sum costs microseconds to milliseconds, a request need not pay it.
 */
const READ_BOUNDS_EVERY_MS = 1000;

/** Expects the tables (`createQueueTables`). */
export function createSqliteProducer(db: Database, options: SqliteProducerOptions): SqliteProducer {
  const { now, onEnqueued } = options;
  const ttlMs = options.dedupeTtlSeconds * 1000;
  const markSeen = db.prepare<[string, number, number]>(MARK_SEEN);
  const isSeen = db.prepare<[string, number], 1>(IS_SEEN).pluck();
  const insertEntry = db.prepare<[string, number, number, number, number, string]>(INSERT_ENTRY);
  const anyWaiting = db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM queue_inbox)').pluck();
  const sumBytes = db.prepare<[], number>('SELECT total(bytes) FROM queue_inbox').pluck();
  const readStats = db.prepare<[], { batches: number; users: number; oldest: number | null }>(
    'SELECT count(*) AS batches, total(users) AS users, min(accepted_at) AS oldest FROM queue_inbox',
  );
  const purgeExpired = db.prepare<[number, number]>(PURGE_EXPIRED);
  const ping = db.prepare('SELECT 1');

  const enqueue = ({ messageId, users, receivedAt, body }: QueuedBatch) =>
    insertEntry.run(messageId, users, bytesOf(body), now(), receivedAt, body);
  // One transaction for every accept that arrived in the same turn of the event loop (group
  // commit): a commit's fixed cost (locks, WAL frame, index update) is then shared by all of them.
  const acceptAllInTransaction = db.transaction((accepts: PendingAccept[]) => {
    const at = now();
    for (const pending of accepts) {
      const { batch } = pending;
      if (markSeen.run(batch.messageId, at + ttlMs, at).changes === 0) {
        pending.outcome = 'duplicate';
        continue;
      }
      enqueue(batch);
      pending.outcome = 'accepted';
    }
  });
  let pendingAccepts: PendingAccept[] = [];
  const commitPendingAccepts = () => {
    const accepts = pendingAccepts;
    pendingAccepts = [];
    try {
      // IMMEDIATE takes the write lock first, so another process on the file (a worker, the dlq
      // CLI) makes this wait for busy_timeout rather than fail halfway.
      acceptAllInTransaction.immediate(accepts);
    } catch (error) {
      // A full disk or a file locked past busy_timeout: nothing was written, the senders retry.
      for (const { batch, reject } of accepts) {
        waitingBytes -= bytesOf(batch.body);
        reject(new UnavailableError('backend_unavailable', 5, { cause: error }));
      }
      return;
    }
    for (const { batch, outcome, resolve } of accepts) {
      if (outcome === 'duplicate') waitingBytes -= bytesOf(batch.body);
      resolve(outcome ?? 'duplicate');
    }
    onEnqueued();
  };

  // Bytes waiting, kept in memory so the bound costs nothing per request. Another process on the
  // file (ROLE=worker) moves the real figure, so it is read again before refusing, at most once a second.
  let waitingBytes = sumBytes.get() ?? 0;
  let bytesReadAt = now();
  const overBound = (bytes: number) => {
    if (waitingBytes === 0 || waitingBytes + bytes <= options.maxBytes) return false;
    if (now() - bytesReadAt >= READ_BOUNDS_EVERY_MS) {
      waitingBytes = sumBytes.get() ?? 0;
      bytesReadAt = now();
    }
    return waitingBytes > 0 && waitingBytes + bytes > options.maxBytes;
  };
  // The disk's free space, asked for at most once a second; a full disk refuses before SQLite does.
  let freeBytes = Number.POSITIVE_INFINITY;
  let freeReadAt = Number.NEGATIVE_INFINITY;
  const diskShort = () => {
    if (options.directory === undefined) return false;
    if (now() - freeReadAt >= READ_BOUNDS_EVERY_MS) {
      const { bavail, bsize } = statfsSync(options.directory);
      freeBytes = bavail * bsize;
      freeReadAt = now();
    }
    return freeBytes < options.minFreeBytes;
  };

  const purge = () => {
    try {
      for (let chunk = 0; chunk < PURGE_MAX_CHUNKS; chunk += 1) {
        if (purgeExpired.run(now(), PURGE_CHUNK).changes < PURGE_CHUNK) break;
      }
    } catch {
      // Busy: the next tick tries again; expired marks are ignored by the upsert meanwhile.
    }
  };
  purge();
  const purgeTimer = setInterval(purge, options.purgeIntervalMs);
  purgeTimer.unref();

  return {
    async accept(batch) {
      const bytes = bytesOf(batch.body);
      try {
        if (overBound(bytes) || diskShort()) {
          if (isSeen.get(batch.messageId, now()) !== undefined) return 'duplicate';
          throw new UnavailableError('queue_full');
        }
      } catch (error) {
        if (error instanceof UnavailableError) throw error;
        throw new UnavailableError('backend_unavailable', 5, { cause: error });
      }
      // Counted now, so the accepts waiting for the same commit respect the bound together.
      waitingBytes += bytes;
      return new Promise((resolve, reject) => {
        if (pendingAccepts.length === 0) setImmediate(commitPendingAccepts);
        pendingAccepts.push({ batch, outcome: undefined, resolve, reject });
      });
    },
    async requeue(batch) {
      enqueue(batch);
      waitingBytes += bytesOf(batch.body);
      onEnqueued();
    },
    removed(bytes: number) {
      waitingBytes = Math.max(0, waitingBytes - bytes);
    },
    async isEmpty() {
      return anyWaiting.get() === 0;
    },
    async stats() {
      const { batches, users, oldest } = readStats.get() ?? { batches: 0, users: 0, oldest: null };
      diskShort();
      return {
        batches,
        users,
        oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (now() - oldest) / 1000),
        // The nearer bound: bytes waiting, or the free space the disk must keep (1 when it is down to it).
        fullness: Math.max(waitingBytes / options.maxBytes, Math.min(1, options.minFreeBytes / freeBytes)),
      };
    },
    async check() {
      ping.get();
    },
    close() {
      clearInterval(purgeTimer);
    },
  };
}

/**
 * A body's size as the bound counts it: its length, which is its size in bytes for the ASCII
 * bodies Amplitude sends, and is read without scanning the body on the ack path.
 */
const bytesOf = (body: string) => body.length;
