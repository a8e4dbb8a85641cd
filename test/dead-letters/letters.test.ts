import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keptBody, type Letter, letterBytes } from '../../src/core/dead-letters/dead-letters.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteDeadLetters } from '../../src/sqlite/dead-letters.ts';
import { createTempDir } from '../support/tmp.ts';
import { describeDeadLettersContract } from './contract.ts';

describeDeadLettersContract('memory', async ({ maxPerKind }) => ({
  letters: createMemoryDeadLetters({ maxPerKind }),
  cleanup: async () => {},
}));

describeDeadLettersContract('sqlite', async ({ maxPerKind }) => {
  const dir = await createTempDir('letters');
  const db = openSqliteDatabase(join(dir.path, 'letters.db'));
  return {
    letters: createSqliteDeadLetters(db, { maxPerKind }),
    cleanup: async () => {
      db.close();
      await dir.remove();
    },
  };
});

describe('SQLite dead letters in a file made before bodies kept their encoding', () => {
  it('gains the column, reads the old rows as text and keeps new bytes exactly', async () => {
    const dir = await createTempDir('letters-old');
    const db = openSqliteDatabase(join(dir.path, 'old.db'));
    try {
      db.exec(`CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, reason TEXT NOT NULL,
        body TEXT NOT NULL, truncated INTEGER NOT NULL, message_id TEXT, created_at INTEGER NOT NULL)`);
      db.prepare(
        "INSERT INTO dead_letters (kind, reason, body, truncated, message_id, created_at) VALUES ('failed', 'old', '{\"ü\":1}', 0, NULL, 1)",
      ).run();
      const letters = createSqliteDeadLetters(db, { maxPerKind: 10 });
      // A second process opening the same file finds the column already there.
      createSqliteDeadLetters(db, { maxPerKind: 10 });
      const sent = Buffer.from([0xff, 0x00, 0xfe]);
      await letters.add({ kind: 'rejected', reason: 'new', ...keptBody(sent) });
      const [added, old] = await letters.list();
      expect(old).toMatchObject({ reason: 'old', body: '{"ü":1}', encoding: 'utf8' });
      expect(letterBytes(added as Letter).equals(sent)).toBe(true);
    } finally {
      db.close();
      await dir.remove();
    }
  });
});

describe('SQLite dead letters while another connection holds the write lock', () => {
  const letter = (reason: string) => ({ kind: 'rejected' as const, reason, ...keptBody(Buffer.from('{}')) });
  /** Event-loop turns that ran while `promise` was pending (0 if the call held the loop until it settled). */
  const turnsWhilePending = async (promise: Promise<unknown>, turns: number) => {
    let settled = false;
    const done = () => {
      settled = true;
    };
    promise.then(done, done);
    let ran = 0;
    while (!settled && ran < turns) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      ran += 1;
    }
    return { ran, settled };
  };

  /**
   * Runs `test` with the file's write lock held by a second real connection (as the apply thread
   * holds it while committing), `db` being the connection the letters use.
   */
  const withLockHeld = async (
    test: (parts: {
      db: ReturnType<typeof openSqliteDatabase>;
      holder: ReturnType<typeof openSqliteDatabase>;
    }) => Promise<void>,
  ) => {
    const dir = await createTempDir('letters-locked');
    const path = join(dir.path, 'locked.db');
    const db = openSqliteDatabase(path);
    const holder = openSqliteDatabase(path);
    try {
      await test({ db, holder });
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      db.close();
      await dir.remove();
    }
  };

  it('waits for the lock without holding the event loop, and writes the letter once it is free', () =>
    withLockHeld(async ({ db, holder }) => {
      const letters = createSqliteDeadLetters(db, { maxPerKind: 10 });
      holder.exec('BEGIN IMMEDIATE');
      const added = letters.add(letter('while locked'));
      // The loop turns (timers run) while the letter waits; it would have been held for busy_timeout.
      expect(await turnsWhilePending(added, 20)).toEqual({ ran: 20, settled: false });
      holder.exec('COMMIT');
      const id = await added;
      expect((await letters.get(id))?.reason).toBe('while locked');
      expect((await letters.list()).map((each) => each.reason)).toEqual(['while locked']);
    }));

  it('gives a failed batch up after busy_timeout, as before, still without holding the event loop', () =>
    withLockHeld(async ({ db, holder }) => {
      db.pragma('busy_timeout = 100');
      const letters = createSqliteDeadLetters(db, { maxPerKind: 10 });
      holder.exec('BEGIN IMMEDIATE');
      const added = letters.add({ ...letter('failed while locked'), kind: 'failed' });
      const { ran } = await turnsWhilePending(added, 1000);
      // The queue still holds a failed batch: it is delivered again rather than wait here longer.
      await expect(added).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      expect(ran).toBeGreaterThan(0);
      holder.exec('COMMIT');
      expect(await letters.list()).toEqual([]);
    }));

  it('at close, gives what still waits one last attempt, and rejects it if the lock is still held', () =>
    withLockHeld(async ({ db, holder }) => {
      const letters = createSqliteDeadLetters(db, { maxPerKind: 10 });
      holder.exec('BEGIN IMMEDIATE');
      const added = letters.add(letter('kept at close'));
      expect((await turnsWhilePending(added, 3)).settled).toBe(false);
      // Still locked at close: the last attempt waits (busy_timeout) and then fails, saying why.
      db.pragma('busy_timeout = 50');
      const closed = letters.close();
      await expect(added).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      await closed;
      holder.exec('COMMIT');
      expect(await letters.list()).toEqual([]);
    }));
});
