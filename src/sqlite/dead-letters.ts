/** @module DeadLetters in a table of the SQLite file: survives restarts, readable by `npm run dlq`. */
import type { Database } from 'better-sqlite3';
import type { BodyEncoding, DeadLetters, Letter } from '../core/dead-letters/dead-letters.ts';

interface Row {
  id: number;
  kind: Letter['kind'];
  reason: string;
  body: string;
  encoding: BodyEncoding;
  truncated: number;
  received_bytes: number | null;
  message_id: string | null;
  created_at: number;
}

const toLetter = (row: Row): Letter => ({
  id: String(row.id),
  kind: row.kind,
  reason: row.reason,
  body: row.body,
  encoding: row.encoding,
  truncated: row.truncated === 1,
  messageId: row.message_id,
  createdAt: row.created_at,
  ...(row.received_bytes === null ? {} : { receivedBytes: row.received_bytes }),
});

/**
 * How long a rejected body or a sink's changes may wait, in all, for the write lock another
 * connection holds (the store's apply thread, a worker process, `npm run dlq`) before `add` gives
 * up with SQLITE_BUSY: nothing else keeps them. A `failed` batch waits only the connection's
 * busy_timeout, as before: the queue still holds it, and delivering it again may apply it after all.
 */
const MAX_LOCK_WAIT_MS = 30_000;
/** Pause between two attempts at the lock. */
const RETRY_MS = 50;

/** What `add` takes: a letter before it has an id and a time. */
type NewLetter = Parameters<DeadLetters['add']>[0];

const isBusy = (error: unknown) => (error as { code?: unknown } | null)?.code === 'SQLITE_BUSY';

/**
 * The caller owns `db` and closes it.
 *
 * A write waits for the lock without stalling the event loop. better-sqlite3 waits for a lock
 * inside the call, so a letter written while the apply thread commits a 100,000-user batch would
 * hold every webhook for up to busy_timeout, then fail. Instead, each attempt fails at once, and
 * the next comes after a pause. At `close`, what still waits gets one last attempt that may wait.
 */
export function createSqliteDeadLetters(db: Database, options: { maxPerKind: number }): DeadLetters {
  db.exec(`CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    encoding TEXT NOT NULL DEFAULT 'utf8',
    truncated INTEGER NOT NULL,
    received_bytes INTEGER,
    message_id TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dead_letters_kind ON dead_letters (kind, id)`);
  // Files made before a column existed get it: their rows were all text, their sizes unrecorded.
  addColumn(db, 'encoding', "TEXT NOT NULL DEFAULT 'utf8'");
  addColumn(db, 'received_bytes', 'INTEGER');
  const insert = db.prepare(
    'INSERT INTO dead_letters (kind, reason, body, encoding, truncated, received_bytes, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  // Keeps the newest maxPerKind of a kind: one indexed delete per insert.
  const trim = db.prepare(
    'DELETE FROM dead_letters WHERE kind = ? AND id <= (SELECT id FROM dead_letters WHERE kind = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
  );
  const listAll = db.prepare<[number], Row>('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?');
  const listKind = db.prepare<[string, number], Row>(
    'SELECT * FROM dead_letters WHERE kind = ? ORDER BY id DESC LIMIT ?',
  );
  const getOne = db.prepare<[number], Row>('SELECT * FROM dead_letters WHERE id = ?');
  const dropOne = db.prepare('DELETE FROM dead_letters WHERE id = ?');
  const addAndTrim = db.transaction((letter: NewLetter) => {
    const { lastInsertRowid } = insert.run(
      letter.kind,
      letter.reason,
      letter.body,
      letter.encoding ?? 'utf8',
      letter.truncated ? 1 : 0,
      letter.receivedBytes ?? null,
      letter.messageId ?? null,
      Date.now(),
    );
    trim.run(letter.kind, letter.kind, options.maxPerKind);
    return String(lastInsertRowid);
  });

  const busyTimeoutMs = db.pragma('busy_timeout', { simple: true }) as number;
  const addOrFailAtOnce = (letter: NewLetter) => {
    db.pragma('busy_timeout = 0');
    try {
      return addAndTrim.immediate(letter);
    } finally {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  };
  let closing = false;
  const wakeUps = new Set<() => void>();
  const pause = () =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakeUps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, RETRY_MS);
      wakeUps.add(wake);
    });
  const adding = new Set<Promise<string>>();
  const addWhenUnlocked = async (letter: NewLetter) => {
    const giveUpAt = Date.now() + (letter.kind === 'failed' ? busyTimeoutMs : MAX_LOCK_WAIT_MS);
    while (!closing) {
      try {
        return addOrFailAtOnce(letter);
      } catch (error) {
        if (!isBusy(error) || Date.now() >= giveUpAt) throw error;
      }
      await pause();
    }
    return addAndTrim.immediate(letter);
  };

  return {
    add(letter) {
      const added = addWhenUnlocked(letter);
      adding.add(added);
      const forget = () => adding.delete(added);
      added.then(forget, forget);
      return added;
    },
    async list({ kind, limit = 100 } = {}) {
      const rows = kind === undefined ? listAll.all(limit) : listKind.all(kind, limit);
      return rows.map(toLetter);
    },
    async get(id) {
      const row = getOne.get(Number(id));
      return row && toLetter(row);
    },
    async drop(id) {
      return dropOne.run(Number(id)).changes > 0;
    },
    async close() {
      closing = true;
      for (const wake of [...wakeUps]) wake();
      await Promise.allSettled([...adding]);
    },
  };
}

/** Adds `column` to a dead_letters table made before it existed. */
function addColumn(db: Database, column: string, definition: string): void {
  // Immediate: a receiver and `npm run dlq` opening the same old file cannot both add it.
  db.transaction(() => {
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(dead_letters)').all();
    if (columns.some((existing) => existing.name === column)) return;
    db.exec(`ALTER TABLE dead_letters ADD COLUMN ${column} ${definition}`);
  }).immediate();
}
