/**
 * @module Checkpoints a SQLite WAL from a worker thread, so commits on the event loop rarely do.
 *
 * SQLite checkpoints inside the commit that pushes the WAL past `wal_autocheckpoint` pages, and
 * copying that many pages back and fsyncing them stalls the event loop, and every webhook arriving
 * meanwhile (docs/performance.md). A second connection on a worker thread copies the frames in the
 * background (PASSIVE: it never blocks the writer), so the commit's own checkpoint finds almost
 * nothing left. The autocheckpoint stays as the fallback if the thread cannot open the file.
 *
 * A checkpoint that fails (a full disk: the database file cannot grow) is tried again at the next
 * interval, never given up: the WAL would otherwise grow until the autocheckpoint, far past what a
 * small disk holds. Once a checkpoint copies every frame while the WAL is larger than the disk's free
 * space (it grew while the disk was full), the WAL is truncated to give that space back.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints. A PASSIVE checkpoint with nothing to copy costs microseconds. */
const INTERVAL_MS = 50;
/** A WAL smaller than this is never worth truncating, whatever the free space. */
const TRUNCATE_FROM_BYTES = 1024 * 1024;

// CommonJS run by the worker thread (eval: no file to find next to the built JavaScript).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync, statfsSync } = require('node:fs');
const { dirname } = require('node:path');
const Database = require(workerData.driver);
let db;
let timer;
let failing = false;
// Errors a later attempt can outlive; any other (not a database, corrupt) ends the thread.
const transient = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN)/;
try {
  db = new Database(workerData.path, { fileMustExist: true });
  timer = setInterval(checkpoint, workerData.intervalMs);
} catch (error) {
  stop(error);
}
parentPort.on('message', () => stop());
function checkpoint() {
  try {
    const [{ log, checkpointed }] = db.pragma('wal_checkpoint(PASSIVE)');
    if (log >= 0 && log === checkpointed && walOutgrewDisk()) db.pragma('wal_checkpoint(TRUNCATE)');
    if (failing) parentPort.postMessage({ recovered: true });
    failing = false;
  } catch (error) {
    if (!transient.test(error?.code ?? '')) return stop(error);
    if (!failing) parentPort.postMessage({ failing: messageOf(error) });
    failing = true;
  }
}
function walOutgrewDisk() {
  try {
    const walBytes = statSync(workerData.path + '-wal', { throwIfNoEntry: false })?.size ?? 0;
    if (walBytes < workerData.truncateFromBytes) return false;
    const { bavail, bsize } = statfsSync(dirname(workerData.path));
    return walBytes > bavail * bsize;
  } catch {
    return false;
  }
}
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}
function stop(error) {
  clearInterval(timer);
  if (error) parentPort.postMessage({ stopped: messageOf(error) });
  try { db?.close(); } catch {}
  parentPort.close();
}
`;

export interface WalCheckpointer {
  /** Stops the thread and closes its connection. Safe to call twice. */
  close(): Promise<void>;
}

/** What the thread tells as it happens, so a full disk is logged once, not every 50 ms. */
export interface CheckpointerTroubles {
  /** Checkpoints began to fail for a reason that can pass (a full disk, I/O, a lock): tried again every interval. */
  failing?(reason: string): void;
  /** A checkpoint succeeded again after failing. */
  recovered?(): void;
}

type ThreadMessage = { failing: string } | { recovered: true } | { stopped: string };

/**
 * Starts checkpointing the database at `path` (in WAL mode, opened by the caller) every 50 ms.
 * `onStopped` hears why the thread gave up (a file that is not a database; the commits then
 * checkpoint on the event loop again); `troubles` hears of failures it outlives.
 */
export function startWalCheckpointer(
  path: string,
  onStopped: (reason: string) => void,
  troubles: CheckpointerTroubles = {},
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: INTERVAL_MS, truncateFromBytes: TRUNCATE_FROM_BYTES },
  });
  thread.unref(); // never what keeps the process alive
  thread.on('message', (message: ThreadMessage) => {
    if ('failing' in message) troubles.failing?.(message.failing);
    else if ('recovered' in message) troubles.recovered?.();
    else onStopped(message.stopped);
  });
  thread.on('error', (error) => onStopped(error.message));
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        thread.postMessage('stop');
        const timer = setTimeout(() => void thread.terminate(), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
