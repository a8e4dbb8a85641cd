/**
 * @module The SQLite queue's two tables, prefixed `queue_`. `queue_seen` is keyed by message_id and
 * indexed by expiry, so the purge deletes expired marks in small ordered chunks instead of scanning
 * the table. `queue_inbox` keeps `body` last: counting and summing the small columns never reads a
 * body's overflow pages.
 */
import type { Database } from 'better-sqlite3';
import type { StoredFormat } from '../runtime/stored-batch.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_seen (
  message_id TEXT    NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL -- epoch ms
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_seen_by_expiry ON queue_seen (expires_at);

CREATE TABLE IF NOT EXISTS queue_inbox (
  id          INTEGER PRIMARY KEY, -- delivery order
  message_id  TEXT    NOT NULL,
  users       INTEGER NOT NULL,
  bytes       INTEGER NOT NULL DEFAULT 0, -- the body's length, for QUEUE_MAX_BYTES
  accepted_at INTEGER NOT NULL,    -- epoch ms
  attempts    INTEGER NOT NULL,    -- deliveries begun, counted before each one: survives a crash
  format      TEXT    NOT NULL,    -- 'raw'; 'batch' in rows of earlier releases (runtime/stored-batch.ts)
  received_at INTEGER NOT NULL,
  body        TEXT    NOT NULL
);
-- Read-your-writes (?after=) asks whether a batch still waits: without it, a scan of the backlog.
CREATE INDEX IF NOT EXISTS queue_inbox_by_message_id ON queue_inbox (message_id);`;

/** One row of `queue_inbox`. */
export interface InboxRow {
  id: number;
  message_id: string;
  users: number;
  bytes: number;
  accepted_at: number;
  attempts: number;
  format: StoredFormat;
  received_at: number;
  body: string;
}

/** Creates the tables when the file does not have them yet, or adds what an older file lacks. */
export function createQueueTables(db: Database): void {
  db.exec(SCHEMA);
  const columns = db.prepare<[], { name: string }>('PRAGMA table_info(queue_inbox)').all();
  // Rows of a file made before count as empty: the bound is re-read from the rows once a second.
  if (!columns.some((column) => column.name === 'bytes')) {
    db.exec('ALTER TABLE queue_inbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0');
  }
}
