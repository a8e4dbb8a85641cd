import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

describe('openSqliteDatabase', () => {
  const dirs: TempDir[] = [];
  const freshDir = async () => {
    const dir = await createTempDir('sqlite-database');
    dirs.push(dir);
    return dir.path;
  };
  afterEach(async () => {
    for (const made of dirs.splice(0)) await made.remove();
  });

  it('opens the file in WAL mode, creating missing parent directories', async () => {
    const path = join(await freshDir(), 'nested', 'deeper', 'cohorts.db');
    const db = openSqliteDatabase(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  it('gives a new file 16 KiB pages, and leaves an existing file the page size it was made with', async () => {
    const dir = await freshDir();
    const fresh = openSqliteDatabase(join(dir, 'new.db'));
    expect(fresh.pragma('page_size', { simple: true })).toBe(16_384);
    expect(fresh.pragma('wal_autocheckpoint', { simple: true })).toBe(2560);
    fresh.close();

    const oldPath = join(dir, 'old.db');
    const old = new Database(oldPath);
    old.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    old.close();
    const reopened = openSqliteDatabase(oldPath);
    expect(reopened.pragma('page_size', { simple: true })).toBe(4096);
    expect(reopened.pragma('wal_autocheckpoint', { simple: true })).toBe(10_240);
    expect(reopened.prepare('SELECT x FROM t').pluck().get()).toBe(1);
    reopened.close();
  });

  it('fails to open with a message naming the path and the cause when the parent is a regular file', async () => {
    const file = join(await freshDir(), 'not-a-directory');
    await writeFile(file, 'x');
    const path = join(file, 'cohorts.db');

    expect(() => openSqliteDatabase(path)).toThrow(`Cannot open the SQLite database at "${path}"`);
    expect(() => openSqliteDatabase(path)).toThrow(`${file} is a file, not a directory`);
    expect(() => openSqliteDatabase(join(file, 'deeper', 'cohorts.db'))).toThrow(
      `${file} is a file, not a directory`,
    );
  });
});
