import { join } from 'node:path';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteQueue } from '../../src/sqlite/queue.ts';
import { createTempDir } from '../support/tmp.ts';
import { describeQueueContract } from './contract.ts';

describeQueueContract('sqlite', async ({ maxUsers = 1_000_000, ...options }) => {
  const dir = await createTempDir('sqlite-queue');
  const db = openSqliteDatabase(join(dir.path, 'queue.db'));
  const queue = createSqliteQueue(db, {
    dedupeTtlSeconds: 3600,
    maxUsers,
    ...options,
  });
  return {
    queue,
    cleanup: async () => {
      db.close();
      await dir.remove();
    },
  };
});
