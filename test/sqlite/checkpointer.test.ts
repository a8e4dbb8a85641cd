import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWalCheckpointer } from '../../src/sqlite/checkpointer.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('checkpointer');
});
afterEach(() => dir.remove());

/** Polls `condition` until it holds; fails after `timeoutMs` (a deadline, not a timing assertion). */
async function eventually(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await sleep(20);
  }
}

describe('startWalCheckpointer', () => {
  it('copies committed WAL frames into the database file from its own thread', async () => {
    const path = join(dir.path, 'c.db');
    const db = openSqliteDatabase(path);
    // Commits on this connection never checkpoint: only the thread can move data into the file.
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)');
    const before = statSync(path).size;
    const insert = db.prepare('INSERT INTO t (payload) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run('x'.repeat(1000));
    })();
    expect(statSync(path).size).toBe(before); // all of it is still in the WAL

    const stopped: string[] = [];
    const checkpointer = startWalCheckpointer(path, (reason) => stopped.push(reason));
    try {
      await eventually(() => statSync(path).size > 2_000_000);
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2000 });
      expect(stopped).toEqual([]);
    } finally {
      await checkpointer.close();
      await checkpointer.close(); // twice is fine
      db.close();
    }
  });

  it('reports why it stopped when the file is not a database', async () => {
    const path = join(dir.path, 'not-a.db');
    writeFileSync(
      path,
      'this is not a SQLite database, but it is long enough to be read as one. '.repeat(100),
    );
    const stopped: string[] = [];
    const checkpointer = startWalCheckpointer(path, (reason) => stopped.push(reason));
    try {
      await eventually(() => stopped.length > 0);
      expect(stopped[0]).toMatch(/not a database/);
    } finally {
      await checkpointer.close();
    }
  });
});
