/**
 * A Postgres outage is a pause, not a dead letter. A receiver process (STORE=postgres, the apply
 * thread on) takes Amplitude-like traffic from a client that retries every non-200; mid-load the
 * test stops its own Postgres (`pg_ctl stop -m fast`, or a kill -9 of the postmaster) for a few
 * seconds, then starts it again. Then: every acknowledged batch is applied (the membership read
 * back page by page equals the oracle's for the 200'd batches), no dead letter, the read API
 * answered 503 `backend_unavailable` with Retry-After (never 500) while Postgres was away, the apply
 * thread never stopped, and applying resumed by itself (no replay). A SIGTERM during an outage ends
 * the process at once, leaving its batches in the inbox for the next start.
 *
 * The outage lasts ~8 s here (the issue measured 20 s) to keep the suite short; nothing in the
 * receiver depends on its length: applying waits, retrying at most every second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import type { CohortBatch } from '../../src/core/batch.ts';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import {
  type PrivatePostgres,
  privatePostgresProbe,
  startPrivatePostgres,
} from '../support/private-postgres.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { redisUrl } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { awaitMembership } from './membership-check.ts';
import { startSender, statusCounts } from './sender.ts';
import { makeTraffic } from './traffic.ts';

const outageMs = 8000;
const probe = privatePostgresProbe();
if (!probe.available) throw new Error(`${probe.name} is needed: ${probe.reason}`);

let postgres: PrivatePostgres;
let dir: TempDir;
beforeAll(async () => {
  postgres = await startPrivatePostgres();
  dir = await createTempDir('postgres-outage');
}, 60_000);
afterAll(async () => {
  await postgres?.remove();
  await dir?.remove();
});

interface ReadAnswer {
  status: number;
  retryAfter: string | null;
  body: string;
}

/** GET `path`, recording the status, Retry-After and body. */
async function read(url: string, path: string): Promise<ReadAnswer> {
  try {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: await response.text(),
    };
  } catch (error) {
    return { status: 0, retryAfter: null, body: (error as Error).message };
  }
}

/** A counter's or gauge's value in a Prometheus scrape (labels as written, e.g. `{kind="failed"}`). */
function metric(scrape: string, series: string): number {
  const line = scrape.split('\n').find((entry) => entry.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

async function startReceiver(queue: 'sqlite' | 'redis', keyPrefix: string, sqlitePath: string) {
  return startReceiverProcess({
    env: {
      STORE: 'postgres',
      DATABASE_URL: postgres.url,
      QUEUE: queue,
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      SQLITE_PATH: sqlitePath,
      APPLY_THREAD: 'on',
      SINKS: 'none',
      LOG_LEVEL: 'info',
    },
  });
}

/** Drops the schema a run's KEY_PREFIX made, so the cases sharing this Postgres never share tables. */
async function dropSchema(keyPrefix: string) {
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schemaNameFor(keyPrefix)}" CASCADE`);
  } finally {
    await admin.end();
  }
}

const logTime = (receiver: ReceiverProcess, msg: string) =>
  receiver.logLines.find((line) => line.msg === msg || String(line.msg).startsWith(msg))?.time as
    | number
    | undefined;

describe.each([
  ['sqlite', 'stop'],
  ['sqlite', 'kill'],
  ['redis', 'stop'],
] as const)('Postgres away mid-load (QUEUE=%s, %s)', (queue, fault) => {
  it('loses nothing acknowledged, sets nothing aside, answers reads 503 and resumes by itself', async () => {
    const keyPrefix = randomKeyPrefix(`outage-${queue}-${fault}`);
    const receiver = await startReceiver(queue, keyPrefix, `${dir.path}/${keyPrefix}.db`);
    try {
      const traffic = makeTraffic({
        seed: queue === 'sqlite' ? (fault === 'stop' ? 11 : 12) : 13,
        batches: 160,
      });
      const sender = startSender({ url: receiver.url, batches: traffic.sends, gapMs: 300 });
      while (sender.acknowledgedCount() < 30) await sleep(50);

      if (fault === 'stop') await postgres.stop();
      else await postgres.kill();
      const reads: ReadAnswer[] = [];
      const outageEnds = Date.now() + outageMs;
      const cohortId = traffic.batches[0]?.cohortId ?? '';
      while (Date.now() < outageEnds) {
        reads.push(await read(receiver.url, '/cohorts'));
        reads.push(await read(receiver.url, `/cohorts/${cohortId}/members?limit=1000`));
        await sleep(250);
      }
      const ackedDuringOutage = sender.acknowledgedCount();
      await postgres.start();
      const back = Date.now();

      const report = await sender.done;
      const diff = await awaitMembership(receiver.url, report.acknowledged, { timeoutMs: 60_000 });
      const scrape = (await read(receiver.url, '/metrics')).body;

      // No error line at all: no dead letter, no 500, no apply thread stopped.
      const errorLines = receiver.logLines.filter((line) => Number(line.level) >= 50);
      expect(
        errorLines.map((line) => `${line.msg}: ${JSON.stringify(line.err ?? '').slice(0, 300)}`),
      ).toEqual([]);
      expect(report.givenUp).toEqual([]);
      expect(statusCounts(report.attempts)[500]).toBeUndefined();
      expect(diff).toEqual({ lost: [], extra: [], changed: [], cohorts: [] });
      expect(metric(scrape, 'cohort_receiver_dead_letters_total{kind="failed"}')).toBe(0);
      expect(metric(scrape, 'cohort_receiver_apply_errors_total')).toBe(0);
      expect(metric(scrape, 'cohort_receiver_apply_thread_stops_total')).toBe(0);
      expect(metric(scrape, 'cohort_receiver_store_unavailable_retries_total')).toBeGreaterThan(0);
      expect(metric(scrape, 'cohort_receiver_store_available')).toBe(1);
      expect(
        receiver.logLines.filter((line) => line.msg === 'the apply thread stopped; starting a new one'),
      ).toEqual([]);
      // While Postgres was away every read was a 503 saying why, with Retry-After: never a 500.
      expect(reads.length).toBeGreaterThan(4);
      expect(reads.filter((answer) => answer.status !== 503)).toEqual([]);
      for (const answer of reads) {
        expect(answer.retryAfter).toMatch(/^\d+$/);
        expect(JSON.parse(answer.body)).toEqual({ error: 'unavailable', reason: 'backend_unavailable' });
      }
      // Applying waited and resumed by itself: one line each way, however many batches waited.
      const awayAt = logTime(receiver, 'store unavailable');
      const resumedAt = logTime(receiver, 'store available again: applying resumed');
      expect(awayAt).toEqual(expect.any(Number));
      expect(resumedAt).toEqual(expect.any(Number));
      expect(
        receiver.logLines.filter((line) => String(line.msg).startsWith('store unavailable')),
      ).toHaveLength(1);

      console.log(
        `QUEUE=${queue} ${fault}: ${report.acknowledged.length} acknowledged (${ackedDuringOutage} by the end of the outage), ` +
          `${reads.length} reads while away, all 503; applying resumed ${(resumedAt ?? 0) - back} ms after Postgres accepted connections again; ` +
          `${metric(scrape, 'cohort_receiver_store_unavailable_retries_total')} unavailable retries; answers ${JSON.stringify(statusCounts(report.attempts))}`,
      );
    } finally {
      await receiver.stop(10_000);
      await dropSchema(keyPrefix);
      if (queue === 'redis') await deleteKeysUnder(redisUrl, keyPrefix);
    }
  }, 120_000);
});

describe('SIGTERM while Postgres is away (QUEUE=sqlite)', () => {
  it('exits at once and leaves the batches in the inbox, applied by the next start', async () => {
    const keyPrefix = randomKeyPrefix('outage-sigterm');
    const sqlitePath = `${dir.path}/${keyPrefix}.db`;
    await postgres.stop();
    let receiver = await startReceiver('sqlite', keyPrefix, sqlitePath);
    let acknowledged: CohortBatch[] = [];
    try {
      const traffic = makeTraffic({ seed: 21, batches: 20 });
      const report = await startSender({ url: receiver.url, batches: traffic.sends }).done;
      acknowledged = report.acknowledged;
      expect(report.givenUp).toEqual([]);
      await receiver.waitForLog(
        'store unavailable: applying waits for it; accepted batches stay in the queue, none becomes a dead letter',
      );

      const stopping = Date.now();
      const code = await receiver.stop(30_000);
      const stopMs = Date.now() - stopping;
      expect(code).toBe(0);
      expect(receiver.logLines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: true });
      expect(receiver.logLines.filter((line) => String(line.msg).startsWith('apply failed'))).toEqual([]);
      console.log(`SIGTERM during the outage: exited ${code} after ${stopMs} ms`);
    } finally {
      await receiver.stop(10_000);
    }

    await postgres.start();
    receiver = await startReceiver('sqlite', keyPrefix, sqlitePath);
    try {
      const diff = await awaitMembership(receiver.url, acknowledged, { timeoutMs: 60_000 });
      expect(diff).toEqual({ lost: [], extra: [], changed: [], cohorts: [] });
      const scrape = (await read(receiver.url, '/metrics')).body;
      expect(metric(scrape, 'cohort_receiver_dead_letters_total{kind="failed"}')).toBe(0);
    } finally {
      await receiver.stop(10_000);
      await dropSchema(keyPrefix);
    }
  }, 120_000);
});
