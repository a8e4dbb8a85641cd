import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { createSqliteDeliveryLog } from '../../../src/inspect/deliveries/sqlite.ts';
import { openSqliteDatabase } from '../../../src/sqlite/database.ts';
import { createTempDir } from '../../support/tmp.ts';
import { describeDeliveryLogContract, receipt } from './contract.ts';

describeDeliveryLogContract('sqlite', async ({ maxDeliveries }) => {
  const dir = await createTempDir('deliveries');
  const path = join(dir.path, 'receiver.db');
  const databases: Database[] = [openSqliteDatabase(path)];
  return {
    log: createSqliteDeliveryLog(databases[0] as Database, { maxDeliveries }),
    peer: async () => {
      const db = openSqliteDatabase(path);
      databases.push(db);
      return createSqliteDeliveryLog(db, { maxDeliveries });
    },
    cleanup: async () => {
      for (const db of databases) db.close();
      await dir.remove();
    },
  };
});

describe('SQLite DeliveryLog', () => {
  it('writes nothing while recording, and a burst of receipts together when the interval ends', async () => {
    const dir = await createTempDir('deliveries');
    const path = join(dir.path, 'receiver.db');
    const db = openSqliteDatabase(path);
    const reader = openSqliteDatabase(path);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const log = createSqliteDeliveryLog(db, { flushIntervalMs: 100 });
      const count = reader.prepare('SELECT COUNT(*) FROM inspect_deliveries').pluck();
      for (let index = 0; index < 50; index += 1) log.recordReceipt(receipt());
      await new Promise((resolve) => setImmediate(resolve));
      vi.advanceTimersByTime(99);
      expect(count.get()).toBe(0);
      vi.advanceTimersByTime(1);
      expect(count.get()).toBe(50);
      await log.close();
    } finally {
      vi.useRealTimers();
      reader.close();
      db.close();
      await dir.remove();
    }
  });

  it('keeps the history across a restart', async () => {
    const dir = await createTempDir('deliveries');
    const path = join(dir.path, 'receiver.db');
    try {
      const first = openSqliteDatabase(path);
      const before = createSqliteDeliveryLog(first);
      before.recordReceipt(receipt({ messageId: 'kept' }));
      await before.close();
      first.close();
      const second = openSqliteDatabase(path);
      const after = createSqliteDeliveryLog(second);
      expect((await after.get('kept'))?.messageId).toBe('kept');
      await after.close();
      second.close();
    } finally {
      await dir.remove();
    }
  });

  it('reports a failed write and drops it rather than throwing at the recorder', async () => {
    const dir = await createTempDir('deliveries');
    const db = openSqliteDatabase(join(dir.path, 'receiver.db'));
    try {
      const errors: Error[] = [];
      const log = createSqliteDeliveryLog(db, { onError: (error) => errors.push(error) });
      db.exec('DROP TABLE inspect_deliveries');
      log.recordReceipt(receipt());
      await log.flush();
      expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('inspect_deliveries')]);
      await log.close();
    } finally {
      db.close();
      await dir.remove();
    }
  });
});
