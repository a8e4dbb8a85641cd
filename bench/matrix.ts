/**
 * @module `npm run bench:matrix`: the key combinations, each measured against the floor in the same
 * run, written as the markdown table the README's Performance section shows (with the date, the
 * machine and the command). Combinations whose receiver does not start (a QUEUE or STORE not built
 * yet, a Redis or Postgres not running) are skipped with the reason.
 *
 * It measures three things apart, because apply work costs more than the ack path:
 * 1. the ack path isolated (ROLE=receiver), saturated, by body size and queue;
 * 2. a 10 s saturated burst of 1,000-user bodies while applying (ROLE=all), per QUEUE × STORE:
 *    timeouts, 503s, every acknowledged user applied, apply lag, and the sustained apply rate
 *    against a bare upsert loop on the same store;
 * 3. ack latency while applying, paced at 80% of that sustained apply rate.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, pinThisProcess, serverCpu } from './machine.ts';
import { type BenchOptions, benchOptions } from './options.ts';
import { createProgress } from './progress.ts';
import { type BenchResult, formatBytes, formatCount, formatRatio } from './report.ts';
import { BenchInterrupted, runBench } from './run-bench.ts';
import { formatMs } from './verdict.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,100,1000,10000' },
    queues: { type: 'string', default: 'memory,sqlite,redis' },
    stores: { type: 'string', default: 'sqlite,memory,redis,postgres' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    out: { type: 'string', default: 'bench/results/matrix.md' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench:matrix -- [options]

Measures every QUEUE × STORE of the built-in receiver against the bare server in the same run: the
ack path alone (ROLE=receiver), a burst while applying, and ack latency while applying. Writes a
Markdown report; combinations whose backend is not running are skipped with the reason.

  --sizes LIST     users per body for the ack path (default 1,100,1000,10000)
  --queues LIST    queues to measure (default memory,sqlite,redis)
  --stores LIST    stores to measure (default sqlite,memory,redis,postgres)
  --rounds N       receiver/bare pairs per ack-path row (default 3)
  --duration S     seconds per round and server (default 5)
  --out FILE       where the report goes (default bench/results/matrix.md)`);
  process.exit(0);
}
const sizes = (values.sizes ?? '').split(',').map(Number);
const queues = (values.queues ?? '').split(',');
const stores = (values.stores ?? '').split(',');
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const out = values.out ?? 'bench/results/matrix.md';

/** Connections by body size (docs/performance.md): many small bodies in flight, fewer large ones. */
const connectionsFor = (users: number) => (users <= 100 ? 50 : users <= 1000 ? 10 : 4);

interface Skipped {
  what: string;
  reason: string;
}

const cpu = serverCpu('auto');
if (cpu !== null) pinThisProcess(`1-${availableParallelism() - 1}`);
const progress = createProgress(process.stdout);
const skipped: Skipped[] = [];
const results: { section: string; result: BenchResult }[] = [];
const started = new Date();
const machine = describeMachine();
// Ctrl-C stops the current combination's servers and removes its storage before exiting.
const interrupt = new AbortController();
process.once('SIGINT', () => {
  progress.log("SIGINT: stopping the servers and removing the run's storage…");
  interrupt.abort();
});

async function attempt(what: string, overrides: Partial<BenchOptions>): Promise<BenchResult | null> {
  progress.log(`▸ ${what}`);
  try {
    const result = await runBench(
      benchOptions({ chart: '', pin: cpu === null ? 'off' : 'on', ...overrides }),
      {
        progress,
        command: 'npm run bench:matrix',
        environment: process.env,
        serverCpu: cpu,
        signal: interrupt.signal,
      },
    );
    results.push({ section: what, result });
    return result;
  } catch (error) {
    if (error instanceof BenchInterrupted) {
      progress.done();
      console.error(error.message);
      process.exit(130);
    }
    const reason = startFailure((error as Error).message);
    progress.log(`  skipped: ${reason}`);
    skipped.push({ what, reason });
    return null;
  }
}

/** The line of a failed start that says why (a config error, a refused connection), not a stack. */
function startFailure(message: string): string {
  const lines = message.split('\n').map((line) => line.trim());
  const said = lines.flatMap((line) => {
    if (!line.startsWith('{')) return /^(invalid configuration|could not start|✖|→)/.test(line) ? [line] : [];
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      return entry.err?.message ? [entry.err.message] : [];
    } catch {
      return [];
    }
  });
  return (said.length > 0 ? said.join(' ') : (lines[0] ?? 'failed')).slice(0, 300);
}

const goal = (pass: boolean) => (pass ? '✓' : '✗');

// 1. The ack path, isolated.
const ackRows: string[] = [];
for (const queue of queues) {
  for (const users of sizes) {
    const result = await attempt(`ack path, QUEUE=${queue}, ${users} users/body`, {
      role: 'receiver',
      queue,
      users,
      connections: connectionsFor(users),
      mode: 'saturate',
      rounds,
      duration,
    });
    if (!result) {
      if (skipped.at(-1)?.what.includes(`QUEUE=${queue}`)) break;
      continue;
    }
    const mode = result.modes[0];
    if (!mode?.baseline || !mode.ratios) continue;
    const target = users === 100 ? 0.85 : users === 1000 ? 0.9 : null;
    const met =
      target === null
        ? '—'
        : goal(mode.ratios.requestsPerSecond >= target && (users !== 100 || mode.ratios.p99 <= 1.5));
    ackRows.push(
      `| ${queue} | ${formatCount(users)} | ${formatBytes(result.traffic.meanBodyBytes)} | ${connectionsFor(users)} | ` +
        `${formatCount(mode.baseline.requestsPerSecond)} | ${formatCount(mode.target.requestsPerSecond)} | ` +
        `**${formatRatio(mode.ratios.requestsPerSecond)}** | ${formatMs(mode.baseline.latency.p99)} | ` +
        `${formatMs(mode.target.latency.p99)} | ${formatRatio(mode.ratios.p99)} | ` +
        `${mode.ratios.rounds.map((r) => formatRatio(r.requestsPerSecond)).join(' / ')} | ${met} |`,
    );
  }
}

// 2. Burst while applying, and the sustained apply rate, per QUEUE × STORE.
const applyRows: string[] = [];
const capacities: { queue: string; store: string; usersPerSecond: number }[] = [];
for (const queue of queues) {
  for (const store of stores) {
    const result = await attempt(`burst while applying, QUEUE=${queue} STORE=${store}`, {
      role: 'all',
      queue,
      store,
      users: 1000,
      connections: 4,
      mode: 'saturate',
      rounds: 1,
      duration: 10,
      warmup: 0,
      e2e: true,
      baseline: false,
    });
    const apply = result?.modes[0]?.apply;
    if (!result || !apply) continue;
    const target = result.modes[0]?.target;
    const reasons = Object.entries(apply.unavailable);
    const only503QueueFull = reasons.every(([reason]) => reason === 'queue_full');
    const sustained = apply.drainUsersPerSecond;
    if (sustained) capacities.push({ queue, store, usersPerSecond: sustained });
    const bare = result.bareApply;
    const burstOk =
      (target?.timeouts ?? 1) === 0 && only503QueueFull && apply.appliedUsers === apply.acceptedUsers;
    const applyOk =
      bare?.ratio != null && bare.ratio >= 0.7 && (store !== 'sqlite' || (sustained ?? 0) >= 300_000);
    applyRows.push(
      `| ${queue} | ${store} | ${formatCount(apply.acceptedUsers)} | ${formatCount(apply.appliedUsers)} | ` +
        `${target?.timeouts ?? '-'} | ${reasons.length === 0 ? '0' : reasons.map(([r, n]) => `${n} ${r}`).join(', ')} | ` +
        `${formatMs(apply.lagP50Seconds * 1000)} / ${formatMs(apply.lagP99Seconds * 1000)} | ${goal(burstOk)} | ` +
        `${sustained ? formatCount(sustained) : '-'} | ${bare ? formatCount(bare.usersPerSecond) : '-'} | ` +
        `**${bare?.ratio == null ? '-' : formatRatio(bare.ratio)}** | ${goal(applyOk)} |`,
    );
  }
}

// 3. Ack latency while applying, paced at 80% of the sustained apply rate.
const pacedRows: string[] = [];
for (const { queue, store, usersPerSecond } of capacities.filter(
  (c) => c.store === 'sqlite' || c.queue === 'memory',
)) {
  const rate = Math.max(1, Math.round((0.8 * usersPerSecond) / 1000));
  const result = await attempt(`paced at 80% of apply capacity, QUEUE=${queue} STORE=${store}`, {
    role: 'all',
    queue,
    store,
    users: 1000,
    connections: 4,
    mode: 'paced',
    rate,
    rounds,
    duration: Math.max(duration, 10),
  });
  const mode = result?.modes[0];
  if (!mode?.baseline || !mode.ratios) continue;
  pacedRows.push(
    `| ${queue} | ${store} | ${rate} (${formatCount(rate * 1000)} users/s) | ${formatMs(mode.baseline.latency.p99)} | ` +
      `${formatMs(mode.target.latency.p99)} | **${formatRatio(mode.ratios.p99)}** | ${mode.target.timeouts} | ` +
      `${mode.target.non2xx} | ${goal(mode.ratios.p99 <= 2 && mode.target.timeouts === 0)} |`,
  );
}
progress.done();

const markdown = [
  '# cohort-receiver: bench matrix',
  '',
  `- date: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC (${Math.round((Date.now() - started.getTime()) / 60_000)} min)`,
  `- machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ` +
    (cpu === null ? 'nothing pinned' : `servers pinned to CPU ${cpu}, the load generator on the other CPU`) +
    `; load average ${machine.loadAverage} at the start, ${loadavg()[0]?.toFixed(2)} at the end (other work on the machine adds noise)`,
  `- command: \`npm run bench:matrix${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
  `- method: the floor B is a bare node:http server that reads the body, \`JSON.parse\`s it and answers 200. ` +
    `Each ratio row alternates receiver and B (${rounds} rounds × ${duration} s each, after 1 s of warm-up) ` +
    'so drift cancels; ratios are receiver ÷ B in the same run. Bodies: default shape, 3 user properties, ' +
    'a fresh message_id each.',
  '',
  '## 1. Ack path, isolated (`ROLE=receiver`: accept only, queue sized for the run), saturated',
  '',
  "Goal: ≥ 0.85 of B's requests/s and ≤ 1.5× its p99 at 100-user bodies; ≥ 0.9 at 1,000.",
  '',
  '| queue | users/body | body | conns | B req/s | receiver req/s | req/s ratio | B p99 ms | receiver p99 ms | p99 ratio | ratio by round | goal |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|:-:|',
  ...ackRows,
  '',
  '## 2. Burst while applying (`ROLE=all`): 10 s saturated, 1,000-user bodies, 4 connections',
  '',
  'Goal: no timeout, 503 only once the queue bound is reached, every acknowledged user applied; ' +
    'sustained apply (users/s while draining the backlog) ≥ 0.7 of a bare `applyBatch` loop on the same ' +
    'store, and ≥ 300k users/s on SQLite.',
  '',
  '| queue | store | acked users | applied | timeouts | 503s | apply lag p50 / p99 ms | burst goal | sustained apply users/s | bare loop users/s | ratio | apply goal |',
  '|---|---|---:|---:|---:|---|---:|:-:|---:|---:|---:|:-:|',
  ...applyRows,
  '',
  '## 3. Ack latency while applying, paced at 80% of the sustained apply rate (open loop)',
  '',
  "Goal: p99 within 2× B's p99 at the same rate.",
  '',
  '| queue | store | rate req/s | B p99 ms | receiver p99 ms | p99 ratio | timeouts | non-2xx | goal |',
  '|---|---|---:|---:|---:|---:|---:|---:|:-:|',
  ...pacedRows,
  '',
  ...(skipped.length > 0
    ? ['## Skipped', '', ...skipped.map((skip) => `- ${skip.what}: ${skip.reason}`), '']
    : []),
].join('\n');

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, markdown);
writeFileSync(out.replace(/\.md$/, '.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(markdown);
console.log(`\nwritten: ${out} (and ${out.replace(/\.md$/, '.json')})`);
