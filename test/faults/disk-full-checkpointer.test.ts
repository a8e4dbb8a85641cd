/**
 * The background checkpointer on a disk that fills for real (a 30 MB tmpfs): a checkpoint that
 * fails because the database file cannot grow is tried again, not given up, and once space is back
 * it completes and truncates the WAL that grew meanwhile, giving that space back.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWalCheckpointer } from '../../src/sqlite/checkpointer.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { eventually } from '../durability/traffic.ts';
import { fillDisk, mountTmpfs, type Tmpfs } from './tmpfs.ts';

let disk: Tmpfs;
beforeAll(() => {
  disk = mountTmpfs(30);
});
afterAll(() => disk?.unmount());

describe('the WAL checkpointer on a full disk', () => {
  it('keeps trying while the file cannot grow, then checkpoints and truncates the WAL once space is back', async () => {
    const path = join(disk.path, 'c.db');
    const db = openSqliteDatabase(path);
    // Only the thread checkpoints: the WAL holds everything written until it does.
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)');
    const insert = db.prepare('INSERT INTO t (payload) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 12_000; i++) insert.run('x'.repeat(1000));
    })();
    const walPath = `${path}-wal`;
    expect(statSync(walPath).size).toBeGreaterThan(12_000_000);
    const full = fillDisk(disk.path);

    const events: string[] = [];
    const checkpointer = startWalCheckpointer(path, (reason) => events.push(`stopped: ${reason}`), {
      failing: (reason) => events.push(`failing: ${reason}`),
      recovered: () => events.push('recovered'),
    });
    try {
      await eventually(async () => events.length > 0, 'the first checkpoint to fail');
      expect(events).toEqual(['failing: database or disk is full']);
      // Longer than many intervals: still one line, and the thread still runs.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(events).toEqual(['failing: database or disk is full']);

      full.free();
      await eventually(async () => events.includes('recovered'), 'a checkpoint to succeed again');
      await eventually(async () => statSync(walPath).size === 0, 'the WAL to be truncated');
      expect(events).toEqual(['failing: database or disk is full', 'recovered']);
      expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(12_000);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });
});
