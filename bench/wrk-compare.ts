/**
 * @module `npx tsx bench/wrk-compare.ts`: the ack path measured from outside, with wrk, against
 * the bare server B in the same run (docs/performance-journal.md#outside-measurement-wrk). A fresh
 * `ROLE=receiver` per queue and body size (info logs, auth on), B beside it, both pinned to CPU 0
 * and wrk to CPU 1; rounds alternate receiver and B. Prints one Markdown row per queue × size.
 *
 *   npx tsx bench/wrk-compare.ts --users 100,1000 --queue memory,sqlite,redis --rounds 3 --duration 5
 *   npx tsx bench/wrk-compare.ts --baseline-keeps-bodies   # adds K: B that keeps each body's text, as the memory queue must
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { removeRedisKeys } from './cleanup.ts';
import { amplitudeBodies } from './payload-generator.ts';
import { compiledReceiver, type ReceiverProcess, startReceiverProcess } from './receiver-process.ts';
import { requestsPerSecond, runWrk, splitBody, type WrkResult, wrkScript } from './wrk.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100,1000' },
    queue: { type: 'string', default: 'memory' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    'keep-logs': { type: 'boolean', default: false },
    'baseline-keeps-bodies': { type: 'boolean', default: false },
  },
});

const token = randomBytes(16).toString('hex');
const rounds = Number(values.rounds);
const seconds = Number(values.duration);
const warmup = Number(values.warmup);
const pinned = availableParallelism() >= 2;
const wrkCpus = pinned ? `1-${availableParallelism() - 1}` : undefined;
const extraEnv = Object.fromEntries(
  values.env.map((pair) => [pair.split('=')[0], pair.split('=').slice(1).join('=')]),
);
/** The matrix's connection counts: enough to saturate one core at each size. */
const connectionsFor = (users: number) =>
  Number(values.connections ?? (users <= 100 ? 50 : users <= 1000 ? 10 : 4));

const workDir = await mkdtemp(join(tmpdir(), 'cohort-wrk-'));
const scriptPath = join(workDir, 'post.lua');
await writeFile(scriptPath, wrkScript);

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** CPU seconds (user + system) a process has used, from /proc: robust to other load on the machine. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)] ?? 0;
const pooled = (results: WrkResult[]) =>
  results.reduce((sum, r) => sum + r.requests - r.non2xx, 0) /
  (results.reduce((sum, r) => sum + r.durationUs, 0) / 1e6);

async function startServer(name: string, script: string, env: Record<string, string>, nodeArgs: string[]) {
  return startReceiverProcess({
    name,
    script,
    env,
    nodeArgs,
    logPath: join(workDir, `${name}.log`),
    cpu: pinned ? 0 : undefined,
  });
}

console.log(
  `wrk compare: ${new Date().toISOString()}, Node ${process.version}, ${availableParallelism()} CPUs`,
);
const withKeeping = values['baseline-keeps-bodies'];
console.log(
  `rounds ${rounds} × ${seconds} s after ${warmup} s of warm-up each; receiver and B${withKeeping ? ' and K' : ''} alternate`,
);
console.log(
  withKeeping
    ? 'K is B that also keeps every body it parsed, as a receiver-only memory queue does (nothing drains it)\n'
    : '',
);
console.log(
  `| queue | users/body | body | conns | B req/s | receiver req/s | req/s ratio | B p99 ms | receiver p99 ms | p99 ratio | ratio by round | B CPU µs/req | receiver CPU µs/req | non-2xx |${withKeeping ? ' K req/s | K ÷ B | receiver ÷ K | K p99 ms | K CPU µs/req |' : ''}`,
);
console.log(
  `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|${withKeeping ? '---:|---:|---:|---:|---:|' : ''}`,
);

const profile = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`] : [];
try {
  for (const queue of values.queue.split(',')) {
    for (const users of values.users.split(',').map(Number)) {
      // A fresh B per row, as the receiver is: what an earlier row left in its heap stays out of this one.
      // B is profiled too (its files are the ones without `src/` frames), for a side-by-side reading.
      const baseline = await startServer(
        `baseline-${queue}-${users}`,
        'bench/baseline-server.ts',
        {},
        profile,
      );
      // K, with --baseline-keeps-bodies: what keeping every body costs a server that does nothing else.
      const keeping = withKeeping
        ? await startServer(
            `keeping-${queue}-${users}`,
            'bench/baseline-server.ts',
            { BASELINE_KEEP_BODIES: '1' },
            [],
          )
        : undefined;
      try {
        const generator = amplitudeBodies(users, 1, { maxTemplates: 1 });
        const body = generator.next().body.toString('utf8');
        const { prefix, suffix } = splitBody(body);
        const prefixPath = join(workDir, `prefix-${users}`);
        const suffixPath = join(workDir, `suffix-${users}`);
        await writeFile(prefixPath, prefix);
        await writeFile(suffixPath, suffix);
        const keyPrefix = `wrk-${randomBytes(3).toString('hex')}`;
        const receiver: ReceiverProcess = await startServer(
          `receiver-${queue}-${users}`,
          compiledReceiver(),
          {
            ROLE: 'receiver',
            QUEUE: queue,
            STORE: 'sqlite',
            SQLITE_PATH: join(workDir, `${keyPrefix}.db`),
            KEY_PREFIX: keyPrefix,
            LOG_LEVEL: 'info',
            AUTH_TOKENS: token,
            QUEUE_MAX_USERS: '1000000000',
            SHUTDOWN_TIMEOUT_MS: '1000',
            ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
            ...extraEnv,
          },
          ['--max-old-space-size=12288', ...values['node-arg'], ...profile],
        );
        const connections = connectionsFor(users);
        /** One wrk run, with the CPU the server used during it. */
        const measure = async (server: ReceiverProcess, url: string, runSeconds: number) => {
          const before = cpuSeconds(server.pid);
          const result = await drive(url, runSeconds);
          return { ...result, cpuSeconds: cpuSeconds(server.pid) - before };
        };
        const drive = (url: string, runSeconds: number) =>
          runWrk({
            url,
            connections,
            seconds: runSeconds,
            scriptPath,
            prefixPath,
            suffixPath,
            runId: randomBytes(4).toString('hex'),
            headers: [`Authorization: Bearer ${token}`],
            cpus: wrkCpus,
          });
        try {
          const servers = { receiver, baseline, ...(keeping && { keeping }) };
          type Measured = WrkResult & { cpuSeconds: number };
          const results: Record<string, Measured[]> = Object.fromEntries(
            Object.keys(servers).map((name) => [name, []]),
          );
          for (const server of Object.values(servers))
            if (warmup > 0) await drive(`${server.url}/webhook`, warmup);
          for (let round = 0; round < rounds; round++) {
            for (const [name, server] of Object.entries(servers)) {
              results[name]?.push(await measure(server, `${server.url}/webhook`, seconds));
            }
          }
          const cpuPerRequest = (list: Measured[]) =>
            (list.reduce((sum, x) => sum + x.cpuSeconds, 0) * 1e6) /
            list.reduce((sum, x) => sum + x.requests, 0);
          const r = results.receiver as Measured[];
          const b = results.baseline as Measured[];
          const k = results.keeping;
          const p99 = (list: WrkResult[]) => median(list.map((x) => x.p99Us)) / 1000;
          const byRound = r.map((x, i) =>
            (requestsPerSecond(x) / requestsPerSecond(b[i] as WrkResult)).toFixed(2),
          );
          const non2xx = r.reduce((sum, x) => sum + x.non2xx + x.timeout + x.connect + x.read + x.write, 0);
          console.log(
            `| ${queue} | ${users.toLocaleString('en-US')} | ${(Buffer.byteLength(body) / 1024).toFixed(1)} KB | ${connections} ` +
              `| ${Math.round(pooled(b))} | ${Math.round(pooled(r))} | **${(pooled(r) / pooled(b)).toFixed(2)}** ` +
              `| ${p99(b).toFixed(2)} | ${p99(r).toFixed(2)} | ${(p99(r) / p99(b)).toFixed(2)} | ${byRound.join(' / ')} | ${Math.round(cpuPerRequest(b))} | ${Math.round(cpuPerRequest(r))} | ${non2xx} |` +
              (k
                ? ` ${Math.round(pooled(k))} | ${(pooled(k) / pooled(b)).toFixed(2)} | **${(pooled(r) / pooled(k)).toFixed(2)}** | ${p99(k).toFixed(2)} | ${Math.round(cpuPerRequest(k))} |`
                : ''),
          );
        } finally {
          await receiver.stop(10_000);
          if (queue === 'redis')
            await removeRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix);
        }
      } finally {
        await baseline.stop(5000);
        await keeping?.stop(5000);
      }
    }
  }
} finally {
  if (values['keep-logs']) console.log(`\nserver logs: ${workDir}`);
  else await rm(workDir, { recursive: true, force: true });
}
