/**
 * @module The scale run's reference: a bare better-sqlite3 loop writing the same users, with the
 * same ids, into the same layout as the SQLite store (the `cohort_memberships` table, primary key
 * (cohort_id, user_id), WITHOUT ROWID, no other index), with the file opened the same way
 * (src/sqlite/database.ts) and checkpointed the same way. One last-writer-wins upsert per user,
 * users of a batch in key order, `group` batches per transaction. Nothing else runs in the process.
 *
 * Run as a script with one JSON argument {@link BarePlan}; prints one JSON line {@link BareResult}.
 */
import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { startWalCheckpointer } from '../../src/sqlite/checkpointer.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { batchUserIds, cohortIdOf, type ScaleTraffic } from './bodies.ts';

export interface BarePlan {
  path: string;
  traffic: ScaleTraffic;
  batches: number;
  /** Batches per transaction. */
  group: number;
  /** Variants, to measure a layout or setting against the store's: the old by-user index. */
  byUserIndex?: boolean;
  /** A page size for the new file (SQLite's default is 4096). */
  pageSize?: number;
  /** wal_autocheckpoint pages, in place of src/sqlite/database.ts's. */
  walAutocheckpoint?: number;
  /** Run without the background checkpointer thread. */
  noCheckpointer?: boolean;
}

export interface BareResult {
  group: number;
  variant: string;
  /** Users per second over each tenth of the fill (time inside the writes only). */
  tenths: number[];
  usersPerSecond: number;
  bytesPerMembership: number;
}

const LAYOUT = `
CREATE TABLE IF NOT EXISTS cohort_memberships (
  cohort_id TEXT NOT NULL, user_id TEXT NOT NULL, in_cohort INTEGER NOT NULL,
  computed_time NUMERIC NOT NULL, message_id TEXT NOT NULL, properties TEXT,
  PRIMARY KEY (cohort_id, user_id)
) WITHOUT ROWID`;

const UPSERT = `
INSERT INTO cohort_memberships (cohort_id, user_id, in_cohort, computed_time, message_id, properties)
VALUES (?, ?, 1, ?, ?, NULL)
ON CONFLICT (cohort_id, user_id) DO UPDATE SET
  in_cohort = excluded.in_cohort, computed_time = excluded.computed_time, message_id = excluded.message_id
WHERE (excluded.computed_time, excluded.message_id) > (computed_time, message_id)`;

export async function runBareLoop(plan: BarePlan): Promise<BareResult> {
  if (plan.pageSize !== undefined) {
    // Before the file switches to WAL, or the page size can no longer change.
    const fresh = new Database(plan.path);
    fresh.pragma(`page_size = ${plan.pageSize}`);
    fresh.exec('VACUUM');
    fresh.close();
  }
  const db = openSqliteDatabase(plan.path);
  if (plan.walAutocheckpoint !== undefined) db.pragma(`wal_autocheckpoint = ${plan.walAutocheckpoint}`);
  const checkpointer = plan.noCheckpointer
    ? { close: async () => {} }
    : startWalCheckpointer(plan.path, () => {});
  db.exec(LAYOUT);
  if (plan.byUserIndex) {
    db.exec('CREATE INDEX IF NOT EXISTS by_user ON cohort_memberships (user_id) WHERE in_cohort = 1');
  }
  const upsert = db.prepare<[string, string, number, string]>(UPSERT);
  const writeGroup = db.transaction((first: number, count: number) => {
    for (let batch = first; batch < first + count; batch++) {
      const cohortId = cohortIdOf(batch, plan.traffic);
      const messageId = `bare-${plan.traffic.runId}-${batch}`;
      for (const userId of batchUserIds(batch, plan.traffic).sort())
        upsert.run(cohortId, userId, 1, messageId);
    }
  });
  const tenth = Math.max(1, Math.round(plan.batches / 10));
  const tenths: number[] = [];
  let tenthMs = 0;
  let tenthUsers = 0;
  let totalMs = 0;
  for (let first = 0; first < plan.batches; first += plan.group) {
    const count = Math.min(plan.group, plan.batches - first);
    const started = performance.now();
    writeGroup.immediate(first, count);
    const took = performance.now() - started;
    tenthMs += took;
    totalMs += took;
    tenthUsers += count * plan.traffic.batchUsers;
    if (Math.floor((first + count) / tenth) > Math.floor(first / tenth) || first + count >= plan.batches) {
      tenths.push(Math.round(tenthUsers / (tenthMs / 1000)));
      tenthMs = 0;
      tenthUsers = 0;
    }
  }
  await checkpointer.close();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const users = plan.batches * plan.traffic.batchUsers;
  const variant = [
    plan.byUserIndex ? 'by-user index' : '',
    plan.pageSize ? `page_size ${plan.pageSize}` : '',
    plan.walAutocheckpoint !== undefined ? `wal_autocheckpoint ${plan.walAutocheckpoint}` : '',
    plan.noCheckpointer ? 'no checkpointer thread' : '',
  ]
    .filter(Boolean)
    .join(', ');
  return {
    group: plan.group,
    variant: variant || "the store's",
    tenths,
    usersPerSecond: Math.round(users / (totalMs / 1000)),
    bytesPerMembership: Math.round(statSync(plan.path).size / users),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await runBareLoop(JSON.parse(process.argv[2] ?? '{}') as BarePlan)));
}
