/**
 * @module Opens the one SQLite file the embedded modes share (the store's tables and, with
 * QUEUE=sqlite, the inbox and the dead letters), tuned for many small write transactions from one
 * process. Its background checkpointer is `checkpointer.ts`.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/** The page cache's upper bound, in KiB (SQLite's default is 2 MiB). */
const CACHE_KIB = 64 * 1024;
/** The most a connection's page cache holds: what reading a large cohort once may add to RSS, and keep. */
export const pageCacheBytes = CACHE_KIB * 1024;
/**
 * The page size of a new file (SQLite's default is 4 KiB). Random user ids dirty a leaf page per
 * user whatever its size; larger pages make the B-tree shallower and let a group commit's users share
 * leaves, so fewer pages are written per user (docs/performance-journal.md#what-writes-fewer-pages). A file
 * created with another page size keeps it.
 */
const NEW_FILE_PAGE_BYTES = 16_384;
/** WAL bytes after which a commit checkpoints: 10,000 pages of 4 KiB (SQLite's default: 1,000 pages). */
const WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024;

/**
 * Opens (creating if needed, with its parent directories) the SQLite database at `path`, or an
 * in-memory one for `:memory:`. The caller owns the connection and closes it.
 *
 * WAL lets readers (the HTTP read side) run beside the writer, and `synchronous = NORMAL` is the
 * setting SQLite recommends with WAL: a commit survives a killed process, and only a power loss or
 * OS crash can undo the last few commits (https://www.sqlite.org/pragma.html#pragma_synchronous).
 *
 * @throws Error naming `path` and the cause when the file cannot be created, opened or written.
 */
export function openSqliteDatabase(path: string): Database.Database {
  const inMemory = path === ':memory:' || path === '';
  let db: Database.Database | undefined;
  try {
    if (!inMemory) createParentDirectory(path);
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    // Only an empty file takes a page size, and only before it switches to WAL.
    if (!inMemory) db.pragma(`page_size = ${NEW_FILE_PAGE_BYTES}`);
    // Switching a new file to WAL writes to it, so an unwritable location fails here, at start-up.
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Batches of users in random id order dirty a page per user: a large page cache and a rarely
    // checkpointed WAL mean fewer fsyncs, and a page changed by several commits is copied back once
    // (docs/performance.md). The copying is mostly done by `checkpointer.ts` on its own thread, so
    // the commit that checkpoints does not stall the event loop.
    db.pragma(`cache_size = -${CACHE_KIB}`);
    const pageBytes = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`wal_autocheckpoint = ${Math.round(WAL_CHECKPOINT_BYTES / pageBytes)}`);
    return db;
  } catch (error) {
    db?.close();
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot open the SQLite database at "${path}": ${cause}`, { cause: error });
  }
}

function createParentDirectory(path: string): void {
  const parent = dirname(path);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (error) {
    // Node's EEXIST ("file already exists, mkdir") hides the point: a file stands where a directory must.
    const file = findFileInPath(parent);
    if (file === undefined) throw error;
    throw new Error(`${file} is a file, not a directory`, { cause: error });
  }
}

/** The nearest existing ancestor of `directory` (itself included) if it is not a directory. */
function findFileInPath(directory: string): string | undefined {
  for (let current = directory; dirname(current) !== current; current = dirname(current)) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(current).isDirectory();
    } catch {
      continue; // missing (ENOENT) or under a file (ENOTDIR): look further up
    }
    return isDirectory ? undefined : current;
  }
  return undefined;
}
