/**
 * kill -9 at 10 random moments on the defaults (QUEUE=sqlite, STORE=sqlite; only SQLITE_PATH set,
 * to a temporary folder), restarting the receiver each time, while an Amplitude-like sender posts
 * and retries throughout (a dropped connection or a refused one is retried, as Amplitude does).
 *
 * The moments are drawn from a seed printed at the start (FAULT_SEED=… replays a run): they fall
 * wherever they fall after the apply path is warm (mid-accept, mid-apply, mid-checkpoint), which
 * is the point. After the last restart: every batch got its 200, the inbox empties with no dead letter
 * (a kill is not the batch's fault), the membership read back equals the oracle's for them, and
 * both SQLite files pass `PRAGMA integrity_check` after a last kill -9.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually } from '../durability/traffic.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { awaitMembership, describeDiff } from './membership-check.ts';
import { startSender } from './sender.ts';
import { makeTraffic, seededRandom } from './traffic.ts';

const kills = 10;
const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);

let dir: TempDir;
let receiver: ReceiverProcess | undefined;
beforeAll(async () => {
  dir = await createTempDir('kill-random');
});
afterAll(async () => {
  receiver?.child.kill('SIGKILL');
  await receiver?.exited;
  await dir.remove();
});

const sqlitePath = () => join(dir.path, 'cohorts.db');

/**
 * Starts and waits until the apply path is warm ('ready'): the moments count from there. A kill
 * inside the warm-up finds the head batch in hand while the thread loads, and five of those in a
 * row would set it aside as a crash loop (a dead letter, not a loss): a known limit, not tested here.
 */
async function start() {
  const started = await startReceiverProcess({ env: { SQLITE_PATH: sqlitePath() } });
  receiver = started;
  await eventually(async () => started.logLines.some((line) => line.msg === 'ready'), 'the ready line');
  return started;
}

async function kill(process: ReceiverProcess) {
  process.child.kill('SIGKILL');
  await process.exited;
}

/** Reads the inbox's file while a receiver may be writing it (WAL: readers do not block). */
function inbox<T>(read: (db: Database.Database) => T): T {
  const db = new Database(join(dir.path, 'cohorts.inbox.db'), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function integrityOf(path: string): unknown {
  const db = new Database(path);
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}

describe('kill -9 at random moments on the defaults', () => {
  it('loses nothing acknowledged, sets nothing aside and keeps both files whole', {
    timeout: 240_000,
  }, async () => {
    console.log(`kill-random: FAULT_SEED=${seed}`);
    const random = seededRandom(seed);
    let current = await start();
    const listening = current.logLines.find((line) => line.msg === 'listening');
    expect(listening).toMatchObject({ queue: 'sqlite', store: 'sqlite' });

    const traffic = makeTraffic({ seed, batches: 5000, usersPerBatch: [100, 3000], userPool: 20_000 });
    const sender = startSender({ url: () => current.url, batches: traffic.sends });
    const moments: number[] = [];
    for (let round = 0; round < kills; round += 1) {
      const after = Math.floor(random() * 2500);
      moments.push(after);
      await sleep(after);
      await kill(current);
      current = await start();
    }
    // Some traffic on the last process too, then let the batches in flight finish.
    await sleep(1000);
    sender.stop();
    const report = await sender.done;
    console.log(
      `kill-random: killed ${kills} times at ${moments.join(', ')} ms after ready; ` +
        `${report.acknowledged.length} batches acknowledged, ${report.attempts.length} attempts`,
    );

    expect(report.givenUp).toEqual([]);
    expect(report.acknowledged.length).toBeGreaterThan(kills);
    // Applied: the inbox is empty. Then nothing was set aside, and the state is the oracle's.
    await eventually(
      async () => inbox((db) => db.prepare('SELECT count(*) FROM queue_inbox').pluck().get() === 0),
      'the inbox to empty',
      120_000,
    );
    const letters = inbox(
      (db) => db.prepare('SELECT kind, reason FROM dead_letters').all() as { kind: string; reason: string }[],
    );
    expect(letters.map((letter) => `${letter.kind}: ${letter.reason}`)).toEqual([]);
    const diff = await awaitMembership(current.url, report.acknowledged, { timeoutMs: 30_000 });
    expect(describeDiff(diff)).toBe('no difference');

    await kill(current);
    expect(integrityOf(sqlitePath())).toBe('ok');
    expect(integrityOf(join(dir.path, 'cohorts.inbox.db'))).toBe('ok');
  });
});
