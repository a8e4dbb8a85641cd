/**
 * @module Where QUEUE=memory puts, at shutdown, the acknowledged batches it could not apply within
 * SHUTDOWN_TIMEOUT_MS: a table in the SQLite file, read back and handed over first at the next start.
 * A rolling deploy during a first sync then loses nothing it answered 200 to (docs/operations.md).
 */
import type { Database } from 'better-sqlite3';
import type { MemorySpill } from '../core/queue/memory.ts';
import { queuedBody, type StoredFormat } from '../runtime/stored-batch.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_memory_spill (
  id          INTEGER PRIMARY KEY, -- accept order
  message_id  TEXT    NOT NULL,
  users       INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL,    -- epoch ms
  format      TEXT    NOT NULL,    -- 'raw'; 'batch' in rows of earlier releases
  received_at INTEGER NOT NULL,
  body        TEXT    NOT NULL
);`;

interface SpillRow {
  id: number;
  message_id: string;
  users: number;
  accepted_at: number;
  format: StoredFormat;
  received_at: number;
  body: string;
}

/**
 * Moves every spilled batch into the SQLite queue's inbox of the same file, in one statement: the
 * rows never pass through the heap, however many a shutdown left.
 */
export function moveSpillIntoInbox(db: Database): number {
  db.exec(SCHEMA);
  return db
    .transaction(() => {
      // attempts = 1: that process may have applied it in part (restated changes, src/core/worker.ts).
      const { changes } = db
        .prepare(
          `INSERT INTO queue_inbox (message_id, users, bytes, accepted_at, attempts, format, received_at, body)
           SELECT message_id, users, length(body), accepted_at, 1, format, received_at, body
           FROM queue_memory_spill ORDER BY id`,
        )
        .run();
      db.exec('DELETE FROM queue_memory_spill');
      return changes;
    })
    .immediate();
}

/** The spill in `db` (opened with openSqliteDatabase); creates its table when missing. */
export function createSqliteSpill(db: Database): MemorySpill {
  db.exec(SCHEMA);
  const select = db.prepare<[], SpillRow>(
    'SELECT id, message_id, users, accepted_at, format, received_at, body FROM queue_memory_spill ORDER BY id',
  );
  const insert = db.prepare<[string, number, number, number, string]>(
    "INSERT INTO queue_memory_spill (message_id, users, accepted_at, format, received_at, body) VALUES (?, ?, ?, 'raw', ?, ?)",
  );
  const deleteRow = db.prepare<[number]>('DELETE FROM queue_memory_spill WHERE id = ?');
  const saveAll = db.transaction((batches: Parameters<MemorySpill['save']>[0]) =>
    batches.map(
      ({ messageId, users, acceptedAt, receivedAt, body }) =>
        insert.run(messageId, users, acceptedAt, receivedAt, body).lastInsertRowid as number,
    ),
  );
  return {
    load: () =>
      select.all().map((row) => ({
        spillId: row.id,
        messageId: row.message_id,
        users: row.users,
        body: queuedBody(row.format, row.body),
        receivedAt: row.received_at,
        acceptedAt: row.accepted_at,
        // It may have been applied in part before that process stopped.
        handedOver: 1,
      })),
    save: (batches) => (batches.length === 0 ? [] : saveAll.immediate(batches)),
    remove: (id) => {
      deleteRow.run(id);
    },
  };
}
