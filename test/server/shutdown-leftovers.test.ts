/**
 * SIGTERM past its deadline on the defaults (QUEUE=sqlite, STORE=sqlite, the apply thread), with
 * batches being applied and a slow sink holding them: at SHUTDOWN_TIMEOUT_MS the shutdown closes the
 * queue, says exactly what it left and where (the inbox holds that many rows once the process is
 * gone), and the next start says what it resumes, the same figures. Every batch is applied in the end.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually, post } from '../durability/traffic.ts';
import { type Downstream, startDownstream } from '../sinks/downstream.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const batches = 6;
const usersPerBatch = 2000;

let dir: TempDir;
let downstream: Downstream;
const running: ReceiverProcess[] = [];
beforeEach(async () => {
  dir = await createTempDir('shutdown-leftovers');
  downstream = await startDownstream();
});
afterEach(async () => {
  for (const receiver of running.splice(0)) await receiver.stop(2000);
  await downstream.close();
  await dir.remove();
});

async function start() {
  const receiver = await startReceiverProcess({
    env: {
      SQLITE_PATH: join(dir.path, 'cohorts.db'),
      SHUTDOWN_TIMEOUT_MS: '200',
      SINKS: 'http',
      SINK_HTTP_URL: downstream.url,
    },
  });
  running.push(receiver);
  return receiver;
}

const body = (index: number) =>
  JSON.stringify({
    cohort_name: 'Leftovers',
    cohort_id: 'leftovers',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: `leftover-${index}`,
    users: Array.from({ length: usersPerBatch }, (_, user) => ({ user_id: `b${index}-u${user}` })),
  });

function inInbox(): { batches: number; users: number } {
  const db = new Database(join(dir.path, 'cohorts.inbox.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS batches, total(users) AS users FROM queue_inbox').get() as {
      batches: number;
      users: number;
    };
  } finally {
    db.close();
  }
}

function members(): number {
  const db = new Database(join(dir.path, 'cohorts.db'), { readonly: true });
  try {
    return db
      .prepare("SELECT count(*) FROM cohort_memberships WHERE cohort_id = 'leftovers' AND in_cohort = 1")
      .pluck()
      .get() as number;
  } finally {
    db.close();
  }
}

describe('SIGTERM past SHUTDOWN_TIMEOUT_MS', () => {
  it('says exactly what it left and where, and the next start says what it resumes', async () => {
    // Each batch stays in the inbox until the sink has its changes: several seconds each.
    downstream.respondWith(() => ({ status: 200, delayMs: 3000 }));
    const receiver = await start();
    for (let index = 0; index < batches; index += 1)
      expect((await post(receiver.url, body(index))).status).toBe(200);
    await receiver.waitForLog('batch applied');

    const signalledAt = Date.now();
    const code = await receiver.stop(30_000);
    const exitedAt = Date.now();
    expect(code).toBe(1);
    const left = receiver.logLines.find((line) => line.msg === 'shutdown timeout: batches left undrained');
    expect(left).toMatchObject({ kept_in: `SQLite ${join(dir.path, 'cohorts.inbox.db')} (QUEUE=sqlite)` });
    expect(left?.batches).toBeGreaterThan(0);
    // Exactly what it said: nothing it counted left the inbox afterwards.
    expect(inInbox()).toEqual({ batches: left?.batches, users: left?.users });
    expect(receiver.logLines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: false });
    const deadlineAt = Number(left?.time);
    console.info(
      `shutdown past its deadline: exit ${exitedAt - signalledAt} ms after SIGTERM, ${exitedAt - deadlineAt} ms after the deadline's line`,
    );

    downstream.respondWith(() => ({ status: 200 }));
    const next = await start();
    const resumed = next.logLines.find((line) => line.msg === 'resuming batches accepted before this start');
    expect(resumed).toMatchObject({
      batches: left?.batches,
      users: left?.users,
      kept_in: left?.kept_in,
    });
    expect(resumed?.oldest_age_seconds).toBeGreaterThanOrEqual(0);
    await eventually(async () => members() === batches * usersPerBatch, 'every batch to be applied', 60_000);
    await eventually(async () => inInbox().batches === 0, 'the inbox to empty', 60_000);
  }, 120_000);
});
