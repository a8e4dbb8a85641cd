/**
 * @module Where QUEUE=memory puts, at shutdown, the acknowledged batches it could not apply within
 * SHUTDOWN_TIMEOUT_MS: a table in the SQLite file, read back and applied first at the next start.
 * A rolling deploy during a first sync then loses nothing it answered 200 to (docs/operations.md).
 * The table is prefixed `queue_` so it can share the store's file.
 */
import type { Database } from 'better-sqlite3';
import type { StoredBatch, StoredFormat } from '../runtime/stored-batch.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_memory_spill (
  id          INTEGER PRIMARY KEY, -- accept order
  message_id  TEXT    NOT NULL,
  users       INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL,    -- epoch ms
  format      TEXT    NOT NULL,    -- 'raw' | 'batch', see stored-batch.ts
  received_at INTEGER NOT NULL,
  body        TEXT    NOT NULL
);`;

/** A batch kept by a shutdown, to apply at the next start. */
export interface SpilledBatch {
  messageId: string;
  users: number;
  acceptedAt: number;
  stored: StoredBatch;
}

export interface MemorySpill {
  /** What earlier shutdowns kept, in accept order, each with the id `remove` takes. */
  load(): (SpilledBatch & { id: number })[];
  /** Keeps `batches` in one transaction; returns their ids, in order. */
  save(batches: readonly SpilledBatch[]): number[];
  /** Forgets a kept batch once it is applied. */
  remove(id: number): void;
}

interface SpillRow {
  id: number;
  message_id: string;
  users: number;
  accepted_at: number;
  format: StoredFormat;
  received_at: number;
  body: string;
}

/** The spill in `db` (opened with openSqliteDatabase); creates its table when missing. */
export function createSqliteSpill(db: Database): MemorySpill {
  db.exec(SCHEMA);
  const select = db.prepare<[], SpillRow>(
    'SELECT id, message_id, users, accepted_at, format, received_at, body FROM queue_memory_spill ORDER BY id',
  );
  const insert = db.prepare<[string, number, number, StoredFormat, number, string]>(
    'INSERT INTO queue_memory_spill (message_id, users, accepted_at, format, received_at, body) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const deleteRow = db.prepare<[number]>('DELETE FROM queue_memory_spill WHERE id = ?');
  const saveAll = db.transaction((batches: readonly SpilledBatch[]) =>
    batches.map(
      ({ messageId, users, acceptedAt, stored }) =>
        insert.run(messageId, users, acceptedAt, stored.format, stored.receivedAtMs, stored.body)
          .lastInsertRowid as number,
    ),
  );
  return {
    load: () =>
      select.all().map((row) => ({
        id: row.id,
        messageId: row.message_id,
        users: row.users,
        acceptedAt: row.accepted_at,
        stored: { format: row.format, body: row.body, receivedAtMs: row.received_at },
      })),
    save: (batches) => (batches.length === 0 ? [] : saveAll.immediate(batches)),
    remove: (id) => {
      deleteRow.run(id);
    },
  };
}
