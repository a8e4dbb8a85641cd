/**
 * @module The scale run: fills a receiver's store to N memberships through the webhook (batches of
 * `batchUsers`, `inFlight` requests at a time, a 503 retried after a pause, as Amplitude does), and
 * reports the apply rate over each tenth of the fill, then at full size the churn rate, the read
 * API's latency and the memory and disk it takes; then runs the bare loop (bare-loop.ts) with the
 * same ids into the same layout, in the same run, for the ratio (docs/performance-journal.md#scale-run).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePrometheusText } from '../apply-watch.ts';
import { dropPostgresSchema } from '../cleanup.ts';
import { mulberry32 } from '../payload-generator.ts';
import { compiledReceiver, nodeCommand, repositoryRoot, startReceiverProcess } from '../receiver-process.ts';
import type { UserIdStyle } from '../user-ids.ts';
import { userIdFor } from '../user-ids.ts';
import type { BareResult } from './bare-loop.ts';
import { batchUserIds, cohortIdOf, type ScaleTraffic, scaleBody } from './bodies.ts';

export interface ScaleOptions {
  memberships: number;
  ids: UserIdStyle;
  store: 'sqlite' | 'postgres';
  databaseUrl: string;
  batchUsers: number;
  inFlight: number;
  cohorts: number;
  /** Batches per transaction of each bare loop to run; empty for none. */
  bareGroups: number[];
  /** CPU for the receiver and the bare loop (taskset); null: unpinned. */
  serverCpu: number | null;
  /** Extra receiver environment (e.g. a setting being measured). */
  env: Record<string, string>;
  /** Write the receiver's CPU profile (node --cpu-prof) to this directory. */
  cpuProfDir?: string | undefined;
  log: (line: string) => void;
}

export interface ScaleResult {
  options: Omit<ScaleOptions, 'log'>;
  fill: {
    tenths: number[];
    usersPerSecond: number;
    seconds: number;
    retried503: number;
    deepestBacklog: number;
    cpuShare: number;
  };
  churn: { users: number; usersPerSecond: number };
  reads: {
    userCohorts: { p50Ms: number; p99Ms: number; count: number };
    membersPage: { p50Ms: number; p99Ms: number; count: number };
  };
  rssBytes: number;
  bytesPerMembership: number | null;
  bare: BareResult[];
}

const metricName = 'cohort_receiver_applied_users_total';

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-scale-'));
  const runId = randomBytes(4).toString('hex');
  const keyPrefix = `scale-${runId}`;
  const traffic: ScaleTraffic = {
    batchUsers: options.batchUsers,
    cohorts: options.cohorts,
    ids: options.ids,
    runId,
  };
  const batches = Math.ceil(options.memberships / options.batchUsers);
  const memberships = batches * options.batchUsers;
  const sqlitePath = join(dir, 'cohorts.db');
  const receiver = await startReceiverProcess({
    script: compiledReceiver(),
    env: {
      STORE: options.store,
      QUEUE: 'memory',
      SINKS: 'none',
      LOG_LEVEL: 'warn',
      SQLITE_PATH: sqlitePath,
      DATABASE_URL: options.databaseUrl,
      KEY_PREFIX: keyPrefix.replace(/[^a-z0-9_-]/g, ''),
      MAX_BODY_BYTES: String(64 * 1024 * 1024),
      ...options.env,
    },
    logPath: join(dir, 'receiver.log'),
    nodeArgs: options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [],
    ready: { path: '/healthz' },
    cpu: options.serverCpu ?? undefined,
  });
  try {
    const applied = async () => {
      const text = await (await fetch(`${receiver.url}/metrics`)).text();
      const samples = parsePrometheusText(text);
      return {
        users: samples.get(metricName) ?? 0,
        queued: samples.get('cohort_receiver_queue_users') ?? 0,
        rss: samples.get('process_resident_memory_bytes') ?? 0,
        cpuSeconds: samples.get('process_cpu_seconds_total') ?? 0,
      };
    };
    const computedTime = Math.floor(Date.now() / 1000);
    /** The deepest backlog seen: near 0 means the sender, not the apply, set the pace. */
    let maxQueued = 0;
    let retried503 = 0;
    const post = async (body: string) => {
      for (;;) {
        const response = await fetch(`${receiver.url}/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await response.arrayBuffer();
        if (response.status === 200) return;
        if (response.status !== 503) throw new Error(`the webhook answered ${response.status}`);
        retried503 += 1;
        await sleep(200);
      }
    };
    const send = async (count: number, bodyOf: (index: number) => string) => {
      let next = 0;
      const lane = async () => {
        while (next < count) await post(bodyOf(next++));
      };
      await Promise.all(Array.from({ length: options.inFlight }, lane));
    };
    /** Resolves with performance.now() at each of `marks` applied users, once all are applied. */
    const watch = async (marks: number[], sending: Promise<void>) => {
      const at: number[] = [];
      let failed: unknown;
      sending.catch((error) => {
        failed = error;
      });
      while (at.length < marks.length) {
        if (failed) throw failed;
        const { users, queued } = await applied();
        const now = performance.now();
        maxQueued = Math.max(maxQueued, queued);
        // biome-ignore lint/style/noNonNullAssertion: at.length < marks.length.
        while (at.length < marks.length && users >= marks[at.length]!) at.push(now);
        await sleep(100);
      }
      return at;
    };

    options.log(
      `fill: ${memberships.toLocaleString('en')} memberships, ${options.ids} ids, STORE=${options.store}`,
    );
    const fillStart = performance.now();
    const cpuAtStart = (await applied()).cpuSeconds;
    const marks = Array.from({ length: 10 }, (_, k) => Math.round(((k + 1) * memberships) / 10));
    const sending = send(batches, (batch) =>
      scaleBody(
        {
          cohortId: cohortIdOf(batch, traffic),
          inCohort: true,
          computedTime,
          messageId: `scale-${runId}-${batch}`,
        },
        batchUserIds(batch, traffic),
      ),
    );
    const at = await watch(marks, sending);
    await sending;
    const tenths = at.map((time, k) =>
      Math.round(memberships / 10 / ((time - (k === 0 ? fillStart : (at[k - 1] as number))) / 1000)),
    );
    const fillSeconds = ((at.at(-1) as number) - fillStart) / 1000;
    // Near 1: the receiver's CPU is the limit; well below: it waited (for the sender, or for I/O).
    const fillCpuShare = Number((((await applied()).cpuSeconds - cpuAtStart) / fillSeconds).toFixed(2));
    options.log(`fill: the receiver used ${fillCpuShare} of a CPU`);
    options.log(`fill: ${tenths.map((rate) => rate.toLocaleString('en')).join(' | ')} users/s per tenth`);
    options.log(`fill: deepest backlog ${maxQueued.toLocaleString('en')} users`);
    const fillBacklog = maxQueued;

    // Churn at full size: existing users at random, half the batches removing, all newer.
    const churnBatches = Math.max(20, Math.min(500, Math.round(batches / 20)));
    const random = mulberry32(7);
    const pick = () => Math.floor(random() * memberships);
    const base = (await applied()).users;
    const churnStart = performance.now();
    const churnSending = send(churnBatches, (index) => {
      // Existing users of one cohort: those of its batches (batch b belongs to cohort b mod cohorts).
      const cohort = index % options.cohorts;
      const perCohort = Math.max(1, Math.floor(batches / options.cohorts));
      const users = Array.from({ length: options.batchUsers }, () => {
        const batch = cohort + options.cohorts * Math.floor(random() * perCohort);
        return userIdFor(batch * options.batchUsers + Math.floor(random() * options.batchUsers), options.ids);
      });
      return scaleBody(
        {
          cohortId: `scale-${cohort}`,
          inCohort: index % 2 === 1,
          computedTime: computedTime + 1 + index,
          messageId: `scale-${runId}-churn-${index}`,
        },
        users,
      );
    });
    await watch([base + churnBatches * options.batchUsers], churnSending);
    const churnUsers = churnBatches * options.batchUsers;
    const churn = {
      users: churnUsers,
      usersPerSecond: Math.round(churnUsers / ((performance.now() - churnStart) / 1000)),
    };
    options.log(`churn: ${churn.usersPerSecond.toLocaleString('en')} users/s`);

    const userCohorts = await timeReads(500, async () => {
      const n = pick();
      await get(`${receiver.url}/users/${encodeURIComponent(userIdFor(n, options.ids))}/cohorts`);
    });
    let cursor: string | null = null;
    const membersPage = await timeReads(200, async (index) => {
      const cohort = `scale-${index % options.cohorts}`;
      const query: string =
        cursor && index % options.cohorts === 0 ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = (await get(`${receiver.url}/cohorts/${cohort}/members?limit=500${query}`)) as {
        next_cursor: string | null;
      };
      if (index % options.cohorts === 0) cursor = page.next_cursor;
    });
    options.log(
      `reads: user's cohorts p50 ${userCohorts.p50Ms} ms p99 ${userCohorts.p99Ms} ms; 500-member page p50 ${membersPage.p50Ms} ms p99 ${membersPage.p99Ms} ms`,
    );
    const { rss } = await applied();
    await receiver.stop(120_000);
    const bytes =
      options.store === 'sqlite'
        ? [sqlitePath, `${sqlitePath}-wal`].reduce(
            (sum, path) => sum + (existsSync(path) ? statSync(path).size : 0),
            0,
          )
        : null;

    const bare: BareResult[] = [];
    for (const group of options.bareGroups) {
      const path = join(dir, `bare-${group}.db`);
      const result = await runBareChild({ path, traffic, batches, group }, options.serverCpu);
      options.log(
        `bare loop, ${group} batch(es)/transaction: ${result.tenths.map((rate) => rate.toLocaleString('en')).join(' | ')} users/s per tenth`,
      );
      bare.push(result);
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
    }
    const { log: _log, ...shown } = options;
    return {
      options: shown,
      fill: {
        tenths,
        usersPerSecond: Math.round(memberships / fillSeconds),
        seconds: Math.round(fillSeconds),
        retried503,
        deepestBacklog: fillBacklog,
        cpuShare: fillCpuShare,
      },
      churn,
      reads: { userCohorts, membersPage },
      rssBytes: rss,
      bytesPerMembership: bytes === null ? null : Math.round(bytes / memberships),
      bare,
    };
  } finally {
    if (receiver.isRunning()) await receiver.stop(60_000);
    if (options.store === 'postgres')
      await dropPostgresSchema(options.databaseUrl, keyPrefix).catch(() => '');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function get(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
  return response.json();
}

async function timeReads(count: number, read: (index: number) => Promise<void>) {
  const times: number[] = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await read(index);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(2));
  return { p50Ms: at(0.5), p99Ms: at(0.99), count };
}

async function runBareChild(plan: object, cpu: number | null): Promise<BareResult> {
  const { spawn } = await import('node:child_process');
  const [command, ...args] = nodeCommand('bench/scale/bare-loop.ts', [], cpu ?? undefined);
  const child = spawn(command, [...args, JSON.stringify(plan)], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the bare loop exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as BareResult;
}
