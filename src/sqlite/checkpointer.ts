/**
 * @module Checkpoints a SQLite WAL from a worker thread, so commits on the event loop rarely do.
 *
 * SQLite checkpoints inside the commit that pushes the WAL past `wal_autocheckpoint` pages, and
 * copying that many pages back and fsyncing them stalls the event loop, and every webhook arriving
 * meanwhile (docs/performance.md). A second connection on a worker thread copies the frames in the
 * background (PASSIVE: it never blocks the writer), so the commit's own checkpoint finds almost
 * nothing left. The autocheckpoint stays as the fallback: if this thread stops, commits checkpoint
 * as before, which also resets the WAL, keeping it bounded.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints. A PASSIVE checkpoint with nothing to copy costs microseconds. */
const INTERVAL_MS = 50;

// CommonJS run by the worker thread (eval: no file to find next to the built JavaScript).
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
let timer;
try {
  db = new Database(workerData.path, { fileMustExist: true });
  timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch (error) {
      stop(error);
    }
  }, workerData.intervalMs);
} catch (error) {
  stop(error);
}
parentPort.on('message', () => stop());
function stop(error) {
  clearInterval(timer);
  if (error) parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  try { db?.close(); } catch {}
  parentPort.close();
}
`;

export interface WalCheckpointer {
  /** Stops the thread and closes its connection. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts checkpointing the database at `path` (in WAL mode, opened by the caller) every 50 ms.
 * `onStopped` hears why the thread gave up (the commits then checkpoint on the event loop again).
 */
export function startWalCheckpointer(path: string, onStopped: (reason: string) => void): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: INTERVAL_MS },
  });
  thread.unref(); // never what keeps the process alive
  thread.on('message', (message: { error: string }) => onStopped(message.error));
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
