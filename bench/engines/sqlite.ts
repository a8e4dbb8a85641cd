/**
 * @module SQLite (better-sqlite3) as the store keeps it today: the `cohort_memberships` WITHOUT
 * ROWID table keyed by (cohort_id, user_id), no by-user index, WAL, synchronous=NORMAL, the
 * background checkpointer thread (src/sqlite/checkpointer.ts). A group is applied by the store's
 * own code: every batch through `applyBatch`, committed as one group (src/sqlite/group-commit.ts),
 * which reads and writes the group's users in key order at once.
 *
 * Options (`sqlite:page=4096:cache=1g`):
 * - `page=16384` the new file's page size (src/sqlite/database.ts: 16384; SQLite's default 4096).
 * - `cache=64m` the page cache (`cache_size`).
 * - `checkpointer=1` the background WAL checkpointer thread; `wal=40m` wal_autocheckpoint in bytes.
 * - `mmap=0` `mmap_size`: read pages through a memory map instead of read() into the page cache.
 * - `synchronous=normal` (`full` fsyncs every commit). Durability at `normal`: a commit survives a
 *   killed process, not a power loss (the same promise as lmdb with noSync).
 * - `group=N` batches per transaction (the CLI's --group by default).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { CohortBatch } from '../../src/core/batch.ts';
import { startWalCheckpointer, type WalCheckpointer } from '../../src/sqlite/checkpointer.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import type { EngineOptions, RegisterEngine } from './engine.ts';
import { diskUsage } from './measure.ts';

type RegisterRow = [
  userId: string,
  inCohort: 0 | 1,
  computedTime: number,
  messageId: string,
  properties: string | null,
];

export function createSqliteEngine(options: EngineOptions): RegisterEngine {
  const pageSize = options.number('page', 16_384);
  const cacheBytes = options.number('cache', 64 * 1024 * 1024);
  const useCheckpointer = options.boolean('checkpointer', true);
  const walBytes = options.number('wal', 40 * 1024 * 1024);
  const mmapBytes = options.number('mmap', 0);
  const synchronous = options.string('synchronous', 'normal', ['off', 'normal', 'full']);

  let dir = '';
  let db: Database.Database | undefined;
  let checkpointer: WalCheckpointer | undefined;
  let applyGroup: ((batches: CohortBatch[]) => unknown) | undefined;
  let memberCount: Database.Statement<[string], { members: number }> | undefined;
  let readRegister: Database.Statement<[string, string], RegisterRow> | undefined;

  const name = [
    `sqlite page=${pageSize} cache=${Math.round(cacheBytes / 2 ** 20)}MiB`,
    "store's group apply",
    useCheckpointer ? 'checkpointer' : 'no checkpointer',
    `synchronous=${synchronous}`,
    mmapBytes > 0 ? `mmap=${Math.round(mmapBytes / 2 ** 20)}MiB` : '',
  ]
    .filter(Boolean)
    .join(' ');

  return {
    name,
    persistent: true,
    async open(directory) {
      dir = directory;
      mkdirSync(dir, { recursive: true });
      const path = join(dir, 'store.db');
      const opened = new Database(path, { timeout: 5000 });
      db = opened;
      // As src/sqlite/database.ts, with the page and cache sizes as options. Only an empty file
      // takes a page size, and only before it switches to WAL.
      opened.pragma(`page_size = ${pageSize}`);
      opened.pragma('journal_mode = WAL');
      opened.pragma(`synchronous = ${synchronous.toUpperCase()}`);
      opened.pragma(`cache_size = -${Math.round(cacheBytes / 1024)}`);
      const actualPage = opened.pragma('page_size', { simple: true }) as number;
      opened.pragma(`wal_autocheckpoint = ${Math.max(1, Math.round(walBytes / actualPage))}`);
      if (mmapBytes > 0) opened.pragma(`mmap_size = ${mmapBytes}`);
      if (useCheckpointer) checkpointer = startWalCheckpointer(path, () => {});
      // Creates (or checks) the store's tables; its own statements apply the default path.
      // The store's group commit takes the whole group: its batches join it within one turn, and it
      // commits at the end of that turn.
      const store = createSqliteStore(opened, {
        groupCommitUsers: Number.MAX_SAFE_INTEGER,
        groupCommitWaitMs: 0,
      });
      applyGroup = (batches) => Promise.all(batches.map((batch) => store.applyBatch(batch)));
      memberCount = opened.prepare<[string], { members: number }>(
        'SELECT members FROM cohort_cohorts WHERE cohort_id = ?',
      );
      readRegister = opened
        .prepare<[string, string], RegisterRow>(
          `SELECT user_id, in_cohort, computed_time, message_id, properties
           FROM cohort_memberships WHERE cohort_id = ? AND user_id = ?`,
        )
        .raw();
    },
    async applyGroup(batches) {
      if (applyGroup === undefined) throw new Error('sqlite engine not open');
      await applyGroup(batches);
    },
    async memberCount(cohortId) {
      return memberCount?.get(cohortId)?.members ?? 0;
    },
    async readRegisters(cohortId, userIds) {
      return userIds.map((userId) => {
        const row = readRegister?.get(cohortId, userId);
        if (row === undefined) return undefined;
        const [, inCohort, computedTime, messageId, propertiesJson] = row;
        return { inCohort: inCohort === 1, computedTime, messageId, propertiesJson };
      });
    },
    sizeOnDisk: () => diskUsage(dir).allocated,
    async close() {
      await checkpointer?.close();
      checkpointer = undefined;
      db?.close();
      db = undefined;
      applyGroup = undefined;
    },
  };
}
