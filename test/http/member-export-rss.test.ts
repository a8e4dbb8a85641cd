/**
 * The "done when": `members.csv` of a 1M-member cohort downloads with the receiver's RSS
 * within 50 MB of idle. A SQLite store file is filled with 1M random-order ids straight through the
 * store (no HTTP), a receiver is started on it as `npm start` runs it (dist/, its own process), and
 * its RSS (/proc/<pid>/status VmRSS) is sampled every 100 ms while a slow-ish client downloads the
 * file and parses it with csv-parse, twice. The figures are printed, to be quoted.
 *
 * The first download also fills the read connection's SQLite page cache (64 MiB at most, whatever
 * the cohort's size), which stays: its growth is bounded by that cache plus 50 MB. The second, with
 * the cache already full, is the export's own cost and must stay within 50 MB of idle.
 */
import { readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import { afterAll, expect, it } from 'vitest';
import {
  compiledReceiver,
  type ReceiverProcess,
  startReceiverProcess,
} from '../../bench/receiver-process.ts';
import { userIdFor } from '../../bench/user-ids.ts';
import { compareCodePoints } from '../../src/core/store/register.ts';
import { openSqliteDatabase, pageCacheBytes } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const members = 1_000_000;
const perBatch = 50_000;
const secret = 'member-export-rss-secret';
const maxGrowthBytes = 50 * 1024 * 1024;
const MB = 1024 * 1024;

let dir: TempDir | undefined;
let receiver: ReceiverProcess | undefined;
afterAll(async () => {
  await receiver?.stop(5000);
  await dir?.remove();
});

/** The process's resident set, in bytes. */
function rssOf(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) * 1024;
}

/** Fills `path` with one cohort of `members` random-order ids, a third with properties. */
function fillStore(path: string, cohortId: string): void {
  const db = openSqliteDatabase(path);
  const store = createSqliteStore(db);
  for (let first = 0; first < members; first += perBatch) {
    const users = Array.from({ length: perBatch }, (_, i) => {
      const n = first + i;
      return { userId: userIdFor(n, 'uuid'), ...(n % 3 === 0 && { properties: { plan: 'pro', seats: n } }) };
    });
    store.applyBatchSync(cohortBatch({ cohortId, computedTime: 1_700_000_000, users }));
  }
  db.close();
}

/** Passes each chunk on after a millisecond: a client that reads, but not at loopback speed. */
const slowReader = () =>
  new Transform({
    transform(chunk, _encoding, done) {
      setTimeout(() => done(null, chunk), 1);
    },
  });

/** The process's RSS at rest: the median of 10 samples over a second, after a 2 s pause. */
async function idleRss(pid: number): Promise<number> {
  await sleep(2000);
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(rssOf(pid));
    await sleep(100);
  }
  return [...samples].sort((a, b) => a - b)[samples.length >> 1] as number;
}

/** Downloads `url` slowly through csv-parse while sampling `pid`'s RSS every 100 ms. */
async function download(url: string, headers: Record<string, string>, pid: number) {
  let peak = rssOf(pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 100);
  const started = performance.now();
  let rows = 0;
  let bytes = 0;
  let header: string[] | undefined;
  let ordered = true;
  let previous = '';
  let complete = false;
  try {
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      get(url, { headers }, resolve).once('error', reject),
    );
    expect(response.statusCode).toBe(200);
    response.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    const parser = response.pipe(slowReader()).pipe(parse({ record_delimiter: '\r\n' }));
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header === undefined) {
        header = record;
        continue;
      }
      const userId = record[0] ?? '';
      if (compareCodePoints(previous, userId) >= 0) ordered = false;
      previous = userId;
      rows += 1;
    }
    complete = response.complete;
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, rssOf(pid));
  return { rows, bytes, header, ordered, complete, peak, seconds: (performance.now() - started) / 1000 };
}

const mb = (bytes: number) => Number((bytes / MB).toFixed(1));

it(`downloads members.csv of a ${members.toLocaleString('en')}-member cohort with RSS within 50 MB of idle (page cache warm)`, {
  timeout: 900_000,
}, async () => {
  dir = await createTempDir('export-rss');
  const path = join(dir.path, 'cohorts.db');
  const fillStarted = performance.now();
  fillStore(path, 'big');
  const fillSeconds = (performance.now() - fillStarted) / 1000;

  receiver = await startReceiverProcess({
    script: compiledReceiver(),
    env: { SQLITE_PATH: path, AUTH_TOKENS: secret, SINKS: 'none' },
  });
  const { url, pid } = receiver;
  const headers = { authorization: `Bearer ${secret}` };
  await expect.poll(async () => (await fetch(`${url}/readyz`)).status, { timeout: 30_000 }).toBe(200);
  // Warm: the read path's first use, then a pause, before idle is measured.
  expect((await fetch(`${url}/cohorts`, { headers })).status).toBe(200);
  expect((await fetch(`${url}/cohorts/big/members?limit=10`, { headers })).status).toBe(200);
  const idle = await idleRss(pid);
  const first = await download(`${url}/cohorts/big/members.csv`, headers, pid);
  // Again, on the same process: what the first download left behind (SQLite's page cache of the
  // read connection, up to 64 MiB: src/sqlite/database.ts) is then in the idle figure, and the
  // growth is the export's own.
  const idleAfter = await idleRss(pid);
  const second = await download(`${url}/cohorts/big/members.csv`, headers, pid);

  const figures = {
    members,
    fill_seconds: Number(fillSeconds.toFixed(1)),
    idle_rss_mb: mb(idle),
    first: {
      peak_rss_mb: mb(first.peak),
      growth_mb: mb(first.peak - idle),
      rows: first.rows,
      body_mb: mb(first.bytes),
      seconds: Number(first.seconds.toFixed(1)),
    },
    idle_after_first_mb: mb(idleAfter),
    second: {
      peak_rss_mb: mb(second.peak),
      growth_mb: mb(second.peak - idleAfter),
      rows: second.rows,
      seconds: Number(second.seconds.toFixed(1)),
    },
  };
  console.log(`member export RSS: ${JSON.stringify(figures)}`);

  for (const run of [first, second]) {
    expect(run.header).toEqual(['user_id', 'since', 'user_properties']);
    expect(run.rows).toBe(members);
    expect(run.ordered).toBe(true);
    expect(run.complete).toBe(true);
  }
  expect(second.peak - idleAfter, 'growth of the second download').toBeLessThan(maxGrowthBytes);
  expect(first.peak - idle, 'growth of the first download: the page cache and the export').toBeLessThan(
    pageCacheBytes + maxGrowthBytes,
  );
});
