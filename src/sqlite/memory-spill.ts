/**
 * @module Where QUEUE=memory puts, at shutdown, the acknowledged batches it could not apply within
 * SHUTDOWN_TIMEOUT_MS: a table in the SQLite file, read back and handed over first at the next start.
 * A rolling deploy during a first sync then loses nothing it answered 200 to (docs/operations.md).
 * When the file cannot take them (a full disk), they go to spill files instead (spill-files.ts),
 * taken up into the table at the next start.
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { type MemorySpill, SpillError } from '../core/queue/memory.ts';
import { queuedBody, type StoredFormat } from '../runtime/stored-batch.ts';
import { type SpilledBatch, sumUsers, takeUpSpillFiles, writeSpillFiles } from './spill-files.ts';

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

/**
 * Takes up the spill files a shutdown wrote beside `inboxPath` (or in the OS temp dir) when the
 * file refused them: into the spill table, then deletes them. A file that cannot be taken up yet
 * (the disk is still full) stays for the next start, and says so.
 */
export function takeUpSpillFilesInto(db: Database, inboxPath: string, logger: Logger): void {
  db.exec(SCHEMA);
  const insert = db.prepare<[string, number, number, number, string]>(INSERT_ROW);
  const keepAll = db.transaction((batches: SpilledBatch[]) => {
    for (const { messageId, users, acceptedAt, receivedAt, body } of batches)
      insert.run(messageId, users, acceptedAt, receivedAt, body);
  });
  const { taken, left } = takeUpSpillFiles(inboxPath, (batches) => keepAll.immediate(batches));
  for (const file of taken)
    logger.info(file, 'took up the batches a shutdown kept in a spill file; they are applied first');
  for (const file of left)
    logger.error(file, 'could not take up a spill file yet; it stays, and the next start tries again');
}

const INSERT_ROW =
  "INSERT INTO queue_memory_spill (message_id, users, accepted_at, format, received_at, body) VALUES (?, ?, ?, 'raw', ?, ?)";

/**
 * The spill in `db` (opened with openSqliteDatabase); creates its table when missing. `inboxPath`,
 * the file's path, names the spill files for what the file refuses; without it they are lost.
 */
export function createSqliteSpill(db: Database, inboxPath?: string): MemorySpill {
  db.exec(SCHEMA);
  const select = db.prepare<[], SpillRow>(
    'SELECT id, message_id, users, accepted_at, format, received_at, body FROM queue_memory_spill ORDER BY id',
  );
  const insert = db.prepare<[string, number, number, number, string]>(INSERT_ROW);
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
    save(batches) {
      if (batches.length === 0) return [];
      try {
        return saveAll.immediate(batches);
      } catch (error) {
        throw spillFailure(error, inboxPath, batches);
      }
    },
    remove: (id) => {
      deleteRow.run(id);
    },
  };
}

/** The table refused `batches`: they go to spill files, and the error says where, and what is lost. */
function spillFailure(
  error: unknown,
  inboxPath: string | undefined,
  batches: Parameters<MemorySpill['save']>[0],
): SpillError {
  const users = sumUsers(batches);
  const { kept, lost } =
    inboxPath === undefined
      ? { kept: [], lost: { batches: batches.length, users } }
      : writeSpillFiles(inboxPath, batches);
  const cause = error instanceof Error ? error.message : String(error);
  const where = kept
    .map((file) => `${file.batches} batches (${file.users} users) to ${file.path}`)
    .join(', ');
  const message =
    `could not write ${batches.length} batches (${users} users) to the inbox file ${inboxPath}: ${cause}; ` +
    (kept.length > 0 ? `wrote ${where}, taken up at the next start; ` : '') +
    `${lost.batches} batches (${lost.users} users) kept nowhere`;
  return new SpillError(
    message,
    { not_written: { batches: batches.length, users }, inbox: inboxPath, kept_in_files: kept, lost },
    { cause: error },
  );
}
