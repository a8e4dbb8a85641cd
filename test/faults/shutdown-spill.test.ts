/**
 * SIGTERM with QUEUE=memory while the disk under the SQLite files is full (a 30 MB tmpfs, filled
 * for real): the store cannot apply, so the acknowledged batches wait in memory, and the shutdown
 * cannot write them to the inbox file either. It says so (how many batches and users, and the spill
 * file in the OS temp dir that kept them), exits 1 without claiming a drain, and the next start on
 * the same files, once space is back, takes that file up and applies every acknowledged batch.
 * While the disk is full nothing is dead-lettered: a full disk is the store away, not a refusal.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually } from '../durability/traffic.ts';
import { scrapeMetrics } from '../hardening/receiver.ts';
import { awaitMembership } from './membership-check.ts';
import { startSender } from './sender.ts';
import { fillDisk, mountTmpfs, type Tmpfs } from './tmpfs.ts';
import { makeTraffic } from './traffic.ts';

let disk: Tmpfs;
const running: ReceiverProcess[] = [];
beforeAll(() => {
  disk = mountTmpfs(30);
});
afterEach(async () => {
  for (const receiver of running.splice(0)) await receiver.stop(2000);
});
afterAll(() => {
  disk?.unmount();
  // What a failing run left in the OS temp dir.
  for (const name of spillFilesIn(tmpdir())) {
    if (!spillsBefore.has(name)) rmSync(join(tmpdir(), name), { force: true });
  }
});

/** Spill files of any inbox in the OS temp dir (this test's inbox digest is not known up front). */
const spillFilesIn = (directory: string) =>
  readdirSync(directory).filter((name) => name.startsWith('cohort-receiver-spill-'));
const spillsBefore = new Set(spillFilesIn(tmpdir()));

async function start(directory: string) {
  const receiver = await startReceiverProcess({
    env: {
      QUEUE: 'memory',
      STORE: 'sqlite',
      SQLITE_PATH: join(directory, 'cohorts.db'),
      SHUTDOWN_TIMEOUT_MS: '1000',
    },
  });
  running.push(receiver);
  return receiver;
}

/** The first line logged as `msg`, waited for; failing, it shows what the process logged instead. */
async function logged(receiver: ReceiverProcess, msg: string) {
  await eventually(async () => receiver.logLines.some((line) => line.msg === msg), `"${msg}"`, 60_000).catch(
    (error: Error) => {
      const seen = receiver.logLines
        .filter((line) => line.msg !== 'request')
        .map((line) => JSON.stringify(line));
      throw new Error(`${error.message}; it logged:\n${seen.join('\n')}`);
    },
  );
  return receiver.logLines.find((line) => line.msg === msg) as Record<string, unknown>;
}

function failedLetters(directory: string): number {
  const db = new Database(join(directory, 'cohorts.inbox.db'), { readonly: true });
  try {
    return db.prepare("SELECT count(*) FROM dead_letters WHERE kind = 'failed'").pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('SIGTERM with QUEUE=memory on a full disk', () => {
  it('says what it could not write to the inbox, keeps it in a spill file, and the next start applies it', async () => {
    const directory = join(disk.path, 'spill');
    mkdirSync(directory);
    let receiver = await start(directory);
    const early = makeTraffic({ seed: 2511, batches: 20 });
    const first = await startSender({ url: receiver.url, batches: early.sends }).done;
    await eventually(
      async () => (await scrapeMetrics(receiver.url)).get('cohort_receiver_queue_batches') === 0,
      'the first batches to be applied',
    );

    const full = fillDisk(disk.path);
    // Large enough that the spill cannot fit in what the inbox's WAL already holds.
    const late = makeTraffic({ seed: 2512, batches: 60, usersPerBatch: [1500, 2500], userPool: 20_000 });
    const second = await startSender({ url: receiver.url, batches: late.sends }).done;
    expect(second.givenUp).toEqual([]);
    // Applying stops once the store's writes no longer fit in what its WAL already holds.
    await logged(
      receiver,
      'store unavailable: applying waits for it; accepted batches stay in the queue, none becomes a dead letter',
    );
    const waiting = (await scrapeMetrics(receiver.url)).get('cohort_receiver_queue_batches') ?? 0;
    expect(waiting).toBeGreaterThan(0);
    // The checkpointers give back what a WAL held past the disk's free space: take that too, so the
    // store stays stuck and the spill finds no room, whatever the timing.
    const topUp = fillDisk(disk.path);

    const code = await receiver.stop(30_000);
    const lines = receiver.logLines;
    const msgs = lines.map((line) => line.msg);
    expect(code).toBe(1);
    expect(msgs).not.toContain('unexpected error: shutting down');
    expect(lines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: false });
    const left = lines.find((line) => line.msg === 'shutdown timeout: batches left undrained');
    const failure = lines.find(
      (line) => line.msg === 'shutdown: could not keep every batch left in the inbox file',
    );
    expect(failure).toBeDefined();
    const notWritten = failure?.not_written as { batches: number; users: number };
    expect(notWritten.batches).toBe(left?.batches);
    expect(notWritten.users).toBe(left?.users);
    expect(failure?.lost).toEqual({ batches: 0, users: 0 });
    const files = failure?.kept_in_files as { path: string; batches: number; users: number }[];
    expect(files.map((file) => file.batches).reduce((a, b) => a + b, 0)).toBe(notWritten.batches);
    for (const file of files) expect(existsSync(file.path)).toBe(true);
    console.info(`shutdown spill: ${failure?.msg} ${JSON.stringify({ not_written: notWritten, files })}`);

    full.free();
    topUp.free();
    receiver = await start(directory);
    const takenUp = await logged(
      receiver,
      'took up the batches a shutdown kept in a spill file; they are applied first',
    );
    expect(takenUp.batches).toBe(notWritten.batches);
    const resumed = await logged(receiver, 'resuming batches accepted before this start');
    expect(resumed.batches).toBe(notWritten.batches);
    for (const file of files) expect(existsSync(file.path)).toBe(false);

    const diff = await awaitMembership(receiver.url, [...first.acknowledged, ...second.acknowledged]);
    expect(diff).toEqual({ lost: [], extra: [], changed: [], cohorts: [] });
    expect(failedLetters(directory)).toBe(0);
  }, 180_000);
});
