/**
 * A full disk under the defaults (QUEUE=sqlite, STORE=sqlite), made for real: both SQLite files on
 * a 40 MB tmpfs, filled with a file until writes fail, then the file deleted. While it is full the
 * webhook answers 503 with Retry-After (never 500) and nothing is dead-lettered; once space returns
 * the receiver takes webhooks again on its own, and keeps doing so (the WAL does not fill the disk
 * again), also when it was restarted while the disk was full. Every batch that got a 200 is applied:
 * the read API shows the oracle's state.
 *
 * QUEUE_MIN_FREE_BYTES=0, so the inbox does not refuse before SQLite does: the point is SQLite's own
 * "database or disk is full", on the accept, the apply and the checkpoints alike.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually } from '../durability/traffic.ts';
import { awaitMembership } from './membership-check.ts';
import { type Attempt, type RunningSender, type SenderReport, startSender } from './sender.ts';
import { fillDisk, mountTmpfs, type Tmpfs } from './tmpfs.ts';
import { makeTraffic } from './traffic.ts';

let disk: Tmpfs;
const running: ReceiverProcess[] = [];
beforeAll(() => {
  // The room a freed disk gives back must hold the traffic sent after it (up to ~16 MB of bodies)
  // beside the inspector's records (deliveries with their first user ids, the per-minute series).
  disk = mountTmpfs(40);
});
/** Fillers a failing test did not free, freed after it so the next test has its disk. */
const fillers: { free(): void }[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const receiver of running.splice(0)) await receiver.stop(2000);
  for (const filler of fillers.splice(0)) filler.free();
  // Each test starts on an empty disk: a WAL left by the one before (its size varies with the
  // machine's load) would leave the next less room than it sends through.
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A folder of its own on the small disk, removed after the test. */
function freshDirectory(name: string): string {
  const directory = join(disk.path, name);
  mkdirSync(directory);
  directories.push(directory);
  return directory;
}

/** Fills the disk; freeing it twice is harmless. */
function fill() {
  const filled = fillDisk(disk.path);
  let freed = false;
  const filler = {
    ...filled,
    free() {
      if (freed) return;
      freed = true;
      filled.free();
    },
  };
  fillers.push(filler);
  return filler;
}
afterAll(() => disk?.unmount());

async function start(directory: string) {
  const receiver = await startReceiverProcess({
    env: { SQLITE_PATH: join(directory, 'cohorts.db'), QUEUE_MIN_FREE_BYTES: '0' },
  });
  running.push(receiver);
  return receiver;
}

/** Attempts answered after `since` with `status`. */
const answered = (sender: RunningSender, status: number, since: number) =>
  sender.attempts().filter((attempt) => attempt.status === status && attempt.sentAt >= since);

/** What the sender must never have seen, whatever the disk did. */
function expectOnlyHonestRefusals(attempts: readonly Attempt[]) {
  const statuses = new Set(attempts.map((attempt) => attempt.status));
  // 0: a connection refused while the receiver restarted.
  expect([...statuses].filter((status) => ![0, 200, 503].includes(status))).toEqual([]);
  expect(attempts.filter((attempt) => attempt.status === 503 && attempt.retryAfter === null)).toEqual([]);
  expect(attempts.filter((attempt) => attempt.hung)).toEqual([]);
}

/** Dead letters of kind `failed` in the inbox's file: batches given up on. */
function failedLetters(directory: string): number {
  const path = join(directory, 'cohorts.inbox.db');
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT count(*) FROM dead_letters WHERE kind = 'failed'").pluck().get() as number;
  } finally {
    db.close();
  }
}

const walBytes = (directory: string) =>
  ['cohorts.db-wal', 'cohorts.inbox.db-wal'].map((name) => {
    const path = join(directory, name);
    return existsSync(path) ? statSync(path).size : 0;
  });

/**
 * The senders' reports once every batch got its 200 or was given up; fails, saying so, when that
 * takes more than two minutes (a receiver that never takes webhooks again).
 */
async function finished(first: RunningSender, second: RunningSender): Promise<[SenderReport, SenderReport]> {
  let reports: [SenderReport, SenderReport] | undefined;
  void Promise.all([first.done, second.done]).then((done) => {
    reports = done;
  });
  await eventually(
    async () => reports !== undefined,
    'every batch to get its 200 after the space returned',
    120_000,
  );
  return reports as [SenderReport, SenderReport];
}

/** Fills the disk, waits until the webhook refuses, keeps it full a while; returns how to free it. */
async function fillUntilRefused(sender: RunningSender) {
  const filled = fill();
  const fullSince = Date.now();
  await eventually(
    async () => answered(sender, 503, fullSince).length >= 10,
    'the webhook to answer 503 on the full disk',
    30_000,
  );
  return { ...filled, fullSince };
}

/**
 * After space returned: no batch given up, only honest refusals, the state read back equal to the
 * oracle's for every acknowledged batch, no dead letter; prints the first 200 after the space came.
 */
async function expectRecovered(
  label: string,
  { senders, reports }: { senders: RunningSender[]; reports: SenderReport[] },
  receiver: { url: string },
  { directory, freedAt }: { directory: string; freedAt: number },
) {
  for (const report of reports) expect(report.givenUp.map((batch) => batch.messageId)).toEqual([]);
  expectOnlyHonestRefusals(reports.flatMap((report) => report.attempts));
  const diff = await awaitMembership(
    receiver.url,
    reports.flatMap((report) => report.acknowledged),
  );
  expect(diff).toEqual({ lost: [], extra: [], changed: [], cohorts: [] });
  expect(failedLetters(directory)).toBe(0);
  const firstAfter = Math.min(
    ...senders.flatMap((sender) => answered(sender, 200, freedAt).map((attempt) => attempt.answeredAt)),
  );
  console.info(
    `${label}: first 200 ${firstAfter - freedAt} ms after the space returned; WAL bytes at the end ${walBytes(directory)}`,
  );
}

describe('a full disk under QUEUE=sqlite STORE=sqlite', () => {
  it('answers 503 while full and recovers on its own once space returns, keeping every acknowledged batch', async () => {
    const directory = freshDirectory('recover');
    const receiver = await start(directory);
    const before = makeTraffic({ seed: 2501, batches: 300 });
    const sender = startSender({ url: receiver.url, batches: before.sends, gapMs: 10, maxAttempts: 90 });
    await eventually(async () => sender.acknowledgedCount() >= 40, 'some batches accepted first');

    const full = await fillUntilRefused(sender);
    await sleep(2000);
    full.free();
    const freedAt = Date.now();
    // Then more than the disk holds goes through: a WAL no longer checkpointed would fill it again.
    const after = makeTraffic({ seed: 2502, batches: 1000, usersPerBatch: [200, 600] });
    const more = startSender({ url: receiver.url, batches: after.sends, gapMs: 0, maxAttempts: 90 });
    const [first, second] = await finished(sender, more);

    expect(answered(sender, 503, full.fullSince).length).toBeGreaterThan(0);
    await expectRecovered('disk full', { senders: [sender, more], reports: [first, second] }, receiver, {
      directory,
      freedAt,
    });
  }, 240_000);

  it('recovers when it was restarted while the disk was full', async () => {
    const directory = freshDirectory('restart');
    let receiver = await start(directory);
    const traffic = makeTraffic({ seed: 2503, batches: 400 });
    const sender = startSender({
      url: () => receiver.url,
      batches: traffic.sends,
      gapMs: 10,
      maxAttempts: 90,
    });
    await eventually(async () => sender.acknowledgedCount() >= 40, 'some batches accepted first');

    const full = await fillUntilRefused(sender);
    await receiver.stop(10_000);
    // On the full disk it either starts and answers 503, or, when SQLite cannot even create a WAL
    // beside its files, waits for room before it listens; either way it recovers once space returns.
    const restarting = start(directory);
    await Promise.race([restarting, sleep(5000)]);
    full.free();
    receiver = await restarting;
    const freedAt = Date.now();
    const after = makeTraffic({ seed: 2504, batches: 1000, usersPerBatch: [200, 600] });
    const more = startSender({ url: () => receiver.url, batches: after.sends, gapMs: 0, maxAttempts: 90 });
    const [first, second] = await finished(sender, more);

    await expectRecovered(
      'disk full across a restart',
      { senders: [sender, more], reports: [first, second] },
      receiver,
      { directory, freedAt },
    );
  }, 240_000);

  it('starts on its own once space returns when it was started on a full disk', async () => {
    const directory = freshDirectory('cold');
    const first = await start(directory);
    const traffic = makeTraffic({ seed: 2505, batches: 60 });
    const before = await startSender({ url: first.url, batches: traffic.sends }).done;
    // A clean stop: SQLite deletes the WAL and its index, so opening the files again must create them.
    await first.stop(10_000);
    const full = fill();
    const starting = start(directory);
    let settled = false;
    void starting.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(3000);
    expect(settled).toBe(false); // neither exited nor listening: waiting for room
    full.free();
    const freedAt = Date.now();
    const receiver = await starting;
    const msgs = receiver.logLines.map((line) => line.msg);
    expect(msgs).toContain('could not start: the disk is full; trying again every second');
    expect(msgs).toContain('the disk has room again: started');
    const diff = await awaitMembership(receiver.url, before.acknowledged);
    expect(diff).toEqual({ lost: [], extra: [], changed: [], cohorts: [] });
    const after = await startSender({
      url: receiver.url,
      batches: makeTraffic({ seed: 2506, batches: 40 }).sends,
    }).done;
    expect(after.givenUp).toEqual([]);
    const listening = receiver.logLines.find((line) => line.msg === 'listening');
    console.info(
      `disk full at start: listening ${Number(listening?.time) - freedAt} ms after the space returned`,
    );
  }, 120_000);
});
