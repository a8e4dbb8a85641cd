/**
 * @module `npx tsx bench/acks-while-applying.ts`: ack latency while the receiver applies a backlog
 * (docs/performance-journal.md#acks-while-applying-the-apply-thread-2026-12-01). Per round and per APPLY_THREAD setting: a fresh
 * receiver (defaults: QUEUE=sqlite, STORE=sqlite, info logs, auth on) gets a backlog of 1,000-user
 * bodies with random ids, then 100-user bodies paced at a fixed rate (open loop) while it applies;
 * then the bare server B gets the same paced load. Nothing is pinned: the apply thread needs the
 * second core, which the load generator shares. Prints one Markdown row per run.
 *
 *   npx tsx bench/acks-while-applying.ts --thread on,off --rounds 3 --backlog 800 --rate 50 --duration 8
 *   npx tsx bench/acks-while-applying.ts --thread on --rounds 1 --cpu-prof /tmp/prof
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { parsePrometheusText } from './apply-watch.ts';
import { percentile } from './latency.ts';
import type { Endpoint, Measurement } from './measurement.ts';
import { runPaced } from './pace.ts';
import { amplitudeBodies } from './payload-generator.ts';
import { compiledReceiver, startReceiverProcess } from './receiver-process.ts';

const { values } = parseArgs({
  options: {
    thread: { type: 'string', default: 'on,off' },
    rounds: { type: 'string', default: '3' },
    backlog: { type: 'string', default: '800' },
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '8' },
    'cpu-prof': { type: 'string' },
  },
});
const threads = values.thread.split(',');
const rounds = Number(values.rounds);
const backlogBodies = Number(values.backlog);
const rate = Number(values.rate);
const seconds = Number(values.duration);
const token = randomBytes(16).toString('hex');
const headers = { authorization: `Bearer ${token}` };
const workDir = await mkdtemp(join(tmpdir(), 'cohort-acks-'));

const paced = (url: string, seed: number) => {
  const bodies = amplitudeBodies(100, seed);
  const endpoint: Endpoint = { url, headers };
  return runPaced(endpoint, {
    connections: 4,
    seconds,
    timeoutMs: 2000,
    rate,
    nextBody: () => bodies.next(),
  });
};

/** Posts `count` bodies over 4 connections, as Amplitude's senders do; resolves when all are acknowledged. */
async function fillBacklog(url: string, count: number, seed: number) {
  const bodies = amplitudeBodies(1000, seed);
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: 4 });
  let sent = 0;
  const sender = async () => {
    while (sent < count) {
      sent += 1;
      const { statusCode, body } = await pool.request({
        method: 'POST',
        path: target.pathname,
        headers: { 'content-type': 'application/json', ...headers },
        body: bodies.next().body,
      });
      await body.dump();
      if (statusCode !== 200) throw new Error(`backlog body answered ${statusCode}`);
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  await pool.close();
}

/** Users still queued, and the event loop's own view: its worst delay and the GC pauses so far. */
async function receiverState(origin: string) {
  const samples = parsePrometheusText(await (await fetch(`${origin}/metrics`, { headers })).text());
  const gcSeconds = [...samples]
    .filter(([name]) => name.startsWith('nodejs_gc_duration_seconds_sum'))
    .reduce((sum, [, value]) => sum + value, 0);
  return {
    queuedUsers: samples.get('cohort_receiver_queue_users') ?? Number.NaN,
    loopDelayMaxMs: (samples.get('nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
    gcSeconds,
  };
}

const row = (name: string, round: number, result: Measurement, bareP99: number, note: string) => {
  const p = (q: number) => percentile(result.latencies, q).toFixed(1);
  const p99 = percentile(result.latencies, 0.99);
  const ratio = Number.isFinite(bareP99) ? (p99 / bareP99).toFixed(2) : '';
  return `| ${name} | ${round} | ${result.ok}/${result.responses} | ${p(0.5)} | ${p(0.99)} | ${p(1)} | ${ratio} | ${note} |`;
};

const rows: string[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const bare = await startReceiverProcess({
      name: 'baseline',
      script: 'bench/baseline-server.ts',
      logPath: join(workDir, `bare-${round}.log`),
    });
    const bareResult = await paced(`${bare.url}/webhook`, round);
    await bare.stop(5000);
    const bareP99 = percentile(bareResult.latencies, 0.99);
    rows.push(row('bare server B', round, bareResult, Number.NaN, ''));
    for (const thread of threads) {
      const receiver = await startReceiverProcess({
        script: compiledReceiver(),
        env: {
          AUTH_TOKENS: token,
          APPLY_THREAD: thread,
          SQLITE_PATH: join(workDir, `round-${round}-${thread}.db`),
          LOG_LEVEL: 'info',
        },
        logPath: join(workDir, `receiver-${round}-${thread}.log`),
        // One .cpuprofile per thread of the receiver, written when it exits.
        nodeArgs: values['cpu-prof']
          ? ['--cpu-prof', '--cpu-prof-dir', join(values['cpu-prof'], thread)]
          : [],
      });
      try {
        await fillBacklog(`${receiver.url}/webhook`, backlogBodies, 1000 + round);
        const before = await receiverState(receiver.url);
        const result = await paced(`${receiver.url}/webhook`, 2000 + round);
        const after = await receiverState(receiver.url);
        // The rows count only if the receiver was applying the whole time: users still queued at the end.
        const drained = after.queuedUsers > 0 ? '' : ' (drained early: too short a backlog)';
        const gcMs = Math.round((after.gcSeconds - before.gcSeconds) * 1000);
        const note = `backlog ${before.queuedUsers} → ${after.queuedUsers} users${drained}; GC ${gcMs} ms, loop delay max ${after.loopDelayMaxMs.toFixed(0)} ms`;
        rows.push(row(`APPLY_THREAD=${thread}`, round, result, bareP99, note));
      } finally {
        // A profile is written at exit, so let it drain; otherwise SIGKILL after 2 s.
        await receiver.stop(values['cpu-prof'] ? 60_000 : 2000);
      }
    }
    console.error(rows.slice(-1 - threads.length).join('\n'));
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}

console.log(
  `${new Date().toISOString()}: ${rate} req/s of 100-user bodies for ${seconds} s, backlog ${backlogBodies} × 1,000 users (uuid ids), unpinned`,
);
console.log('| server | round | ok | p50 ms | p99 ms | max ms | p99 ÷ B | while applying |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const line of rows) console.log(line);
