import { join } from 'node:path';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteQueue } from '../../src/sqlite/queue.ts';
import { createTempDir } from '../support/tmp.ts';
import { describeQueueContract, testBatch } from './contract.ts';

describeQueueContract('sqlite', async ({ roomForOne, ...options }) => {
  const dir = await createTempDir('sqlite-queue');
  const db = openSqliteDatabase(join(dir.path, 'queue.db'));
  // The inbox counts bytes: room for one test batch's body and not two.
  const oneBody = testBatch().body.length;
  const queue = createSqliteQueue(db, {
    dedupeTtlSeconds: 3600,
    maxBytes: roomForOne ? Math.round(oneBody * 1.5) : 1024 ** 3,
    directory: dir.path,
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
