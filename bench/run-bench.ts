/**
 * @module One bench run: start the target (or use `--url`) and the floor server, drive both with
 * the same traffic in alternating rounds, watch the target's queue drain between runs, and put
 * everything into one BenchResult.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { defaultGroupCommitUsers } from '../src/sqlite/store.ts';
import { type ApplyMeasurement, measureApply, scrape, waitForDrain, watchMetrics } from './apply-watch.ts';
import type { BareApplyPlan, BareApplyResult } from './bare-apply.ts';
import { dropPostgresSchema, postgresSchemaExists, removeRedisKeys } from './cleanup.ts';
import { describeMachine, serverCpu } from './machine.ts';
import type { Endpoint, LoadPlan, Measurement } from './measurement.ts';
import type { BenchOptions } from './options.ts';
import { runPaced } from './pace.ts';
import { createPayloadGenerator, type GeneratorOptions } from './payload-generator.ts';
import { type Progress, silentProgress } from './progress.ts';
import {
  compiledReceiver,
  nodeCommand,
  type ReceiverProcess,
  repositoryRoot,
  startReceiverProcess,
} from './receiver-process.ts';
import {
  type BenchResult,
  type ModeName,
  type RunRecord,
  type ServerName,
  summarizeMode,
  type TargetInfo,
} from './report.ts';
import { runSaturated } from './saturate.ts';
import { judge } from './verdict.ts';

export interface BenchContext {
  progress?: Progress;
  /** The command line, for the record. */
  command?: string;
  /** The caller's environment: REDIS_URL and DATABASE_URL pass through to the built-in receiver. */
  environment?: Record<string, string | undefined>;
  /**
   * The CPU servers are pinned to, when the caller decided it before pinning itself (after which
   * this process sees one CPU fewer). Decided from `options.pin` when absent.
   */
  serverCpu?: number | null;
  /**
   * Aborted on Ctrl-C: the run stops its servers, removes what it stored and rejects with
   * BenchInterrupted.
   */
  signal?: AbortSignal;
}

/** The run was aborted through `context.signal`; its servers are stopped and its storage removed. */
export class BenchInterrupted extends Error {
  override name = 'BenchInterrupted';
  constructor() {
    super("interrupted: the run's servers are stopped and its Redis keys and Postgres schema removed");
  }
}

/** Shared storage a receiver (or the bare loop) of this run writes under its KEY_PREFIX. */
interface StorageClaim {
  env: Record<string, string>;
  /** The Postgres schema did not exist before the run, so the run drops it at the end. */
  ownsSchema: boolean;
}

/** The target as the run sees it: where to post, where its metrics are (if it has a queue to watch). */
interface Target {
  endpoint: Endpoint;
  metricsUrl: string | null;
  info: TargetInfo;
  process: ReceiverProcess | null;
  env: Record<string, string> | null;
}

export function generatorOptions(options: BenchOptions): GeneratorOptions {
  return {
    users: options.users,
    properties: options.properties,
    shape: options.shape,
    ids: options.ids,
    removeRatio: options.removeRatio,
    cohorts: options.cohorts,
    duplicateRate: options.duplicateRate,
    seed: options.seed,
  };
}

export async function runBench(options: BenchOptions, context: BenchContext = {}): Promise<BenchResult> {
  const progress = context.progress ?? silentProgress();
  const startedAt = new Date();
  const machine = describeMachine();
  const cpu = context.serverCpu === undefined ? serverCpu(options.pin) : context.serverCpu;
  const workDir = await mkdtemp(join(tmpdir(), 'cohort-bench-'));
  const notes: string[] = [];
  const signal = context.signal;
  let target: Target | undefined;
  let targetClaim: StorageClaim | null = null;
  let baseline: ReceiverProcess | null = null;
  try {
    const generateStarted = performance.now();
    const generator = createPayloadGenerator(generatorOptions(options));
    progress.log(
      `generated ${generator.templates} body templates (${generator.distinctUsers.toLocaleString('en-US')} distinct users) ` +
        `in ${Math.round(performance.now() - generateStarted)} ms`,
    );
    const bodyStats = { ...generator.stats };
    const targetEnv = options.url ? null : receiverEnv(options, workDir, context.environment ?? {});
    if (targetEnv) targetClaim = await claimStorage(targetEnv, options.env.KEY_PREFIX !== undefined, notes);
    target = await startTarget(options, targetEnv, workDir, cpu, signal);
    if (options.baseline) {
      baseline = await startReceiverProcess({
        name: 'baseline',
        script: 'bench/baseline-server.ts',
        logPath: join(workDir, 'baseline.log'),
        cpu: cpu ?? undefined,
        signal,
      });
    }
    if (target.info.kind === 'built-in' && options.role === 'receiver' && options.e2e) {
      notes.push('--e2e needs a worker: ROLE=receiver never applies, so no apply figures');
    }

    const modes: ModeName[] = options.mode === 'both' ? ['saturate', 'paced'] : [options.mode];
    const servers: ServerName[] = baseline ? ['target', 'baseline'] : ['target'];
    const totalRuns = modes.length * options.rounds * servers.length;
    const runs: RunRecord[] = [];
    const loadStarted = performance.now();
    for (const mode of modes) {
      for (let round = 1; round <= options.rounds; round++) {
        for (const server of servers) {
          const label = `${mode === 'saturate' ? 'saturated' : `paced ${options.rate} req/s`}, round ${round}/${options.rounds}: ${server}`;
          const endpoint =
            server === 'target'
              ? target.endpoint
              : { url: `${baseline?.url}/webhook`, headers: options.headers };
          const metricsUrl = server === 'target' ? target.metricsUrl : null;
          const base = runs.length / totalRuns;
          const record = await unlessAborted(
            measureOneRun({
              mode,
              endpoint,
              metricsUrl,
              options,
              nextBody: () => generator.next(),
              onStage: (stage, fraction = 0) =>
                progress.update(base + fraction / totalRuns, stage ? `${label} (${stage})` : label),
            }),
            signal,
          );
          if (record.apply && !record.apply.drained) {
            notes.push(`${label}: the queue did not drain within ${options.drainTimeout} s`);
          }
          runs.push({ mode, round, server, ...record });
        }
      }
    }
    const loadMs = performance.now() - loadStarted;
    progress.update(1, 'done');
    await target.process?.stop();
    await baseline?.stop();
    await cleanUp(targetClaim, notes);

    const summaries = modes.map((mode) => summarizeMode(mode, mode === 'paced' ? options.rate : null, runs));
    let bareApply: BenchResult['bareApply'] = null;
    if (options.e2e && target.env && options.role === 'all') {
      progress.log('running the bare apply loop on the same store…');
      const bare = await runBareApplyProcess(options, target.env, runs, workDir, cpu, notes, signal);
      const drained = summaries.flatMap((s) =>
        s.apply?.drainUsersPerSecond ? [s.apply.drainUsersPerSecond] : [],
      );
      bareApply = { ...bare, ratio: drained.length > 0 ? Math.max(...drained) / bare.usersPerSecond : null };
      if (drained.length === 0)
        notes.push('apply kept up with the load: no backlog to time the worker against the bare loop');
    }

    const judged = summaries.find((s) => s.mode === 'paced') ?? (summaries[0] as (typeof summaries)[number]);
    const basis = judged.mode === 'paced' ? `paced at ${options.rate} req/s` : 'saturated';
    const made = {
      bodies: generator.stats.bodies - bodyStats.bodies,
      ms: generator.stats.milliseconds - bodyStats.milliseconds,
    };
    const result: BenchResult = {
      schema: 'cohort-receiver-bench/1',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: context.command ?? 'npm run bench',
      machine,
      target: target.info,
      traffic: {
        shape: options.shape,
        usersPerBody: options.users,
        properties: options.shape === 'default' ? options.properties : 0,
        removeRatio: options.removeRatio,
        cohorts: options.cohorts,
        duplicateRate: options.duplicateRate,
        meanBodyBytes: generator.meanBodyBytes,
        templates: generator.templates,
        distinctUsers: generator.distinctUsers,
        seed: options.seed,
      },
      load: {
        connections: options.connections,
        rounds: options.rounds,
        seconds: options.duration,
        requests: options.requests ?? null,
        warmupSeconds: options.warmup,
        timeoutMs: options.timeoutMs,
      },
      generator: {
        bodies: made.bodies,
        microsecondsPerBody: made.bodies > 0 ? (made.ms * 1000) / made.bodies : 0,
        shareOfRunTime: loadMs > 0 ? made.ms / loadMs : 0,
      },
      modes: summaries,
      bareApply,
      verdict: judge(judged.target, basis, { p99Ms: options.budgetP99Ms, timeoutMs: options.timeoutMs }),
      budget: { p99Ms: options.budgetP99Ms, timeoutMs: options.timeoutMs },
      notes,
    };
    await rm(workDir, { recursive: true, force: true });
    return result;
  } catch (error) {
    await target?.process?.stop(5000);
    await baseline?.stop(5000);
    await cleanUp(targetClaim, []);
    if (signal?.aborted) {
      await rm(workDir, { recursive: true, force: true });
      throw new BenchInterrupted();
    }
    // Keep the servers' logs: they say why.
    (error as Error).message += `\n(server logs kept in ${workDir})`;
    throw error;
  } finally {
    progress.done();
  }
}

interface OneRun {
  mode: ModeName;
  endpoint: Endpoint;
  metricsUrl: string | null;
  options: BenchOptions;
  nextBody: LoadPlan['nextBody'];
  onStage: (stage: string, fraction?: number) => void;
}

/** Warm-up, an empty queue to start from, the measured load, then the drain. */
async function measureOneRun(run: OneRun): Promise<{ measurement: Measurement; apply?: ApplyMeasurement }> {
  const { options, metricsUrl, endpoint } = run;
  const headers = options.headers;
  const drive = (plan: LoadPlan) =>
    run.mode === 'saturate'
      ? runSaturated(endpoint, plan)
      : runPaced(endpoint, { ...plan, rate: options.rate });
  const plan: LoadPlan = {
    connections: options.connections,
    seconds: options.duration,
    requests: options.requests,
    timeoutMs: options.timeoutMs,
    nextBody: run.nextBody,
  };
  if (options.warmup > 0) {
    run.onStage('warm-up');
    await drive({ ...plan, seconds: options.warmup, requests: undefined });
  }
  if (metricsUrl) {
    run.onStage('draining the warm-up');
    await waitForDrain(metricsUrl, headers, options.drainTimeout);
  }
  const before = metricsUrl ? await scrape(metricsUrl, headers) : null;
  const watch = metricsUrl ? watchMetrics(metricsUrl, headers) : null;
  run.onStage('');
  const measurement = await drive({ ...plan, onProgress: (fraction) => run.onStage('', fraction) });
  const loadEnded = performance.now();
  if (!metricsUrl || !watch || !before) return { measurement };
  const during = await watch.stop();
  run.onStage('waiting for the queue to drain', 1);
  const drain = await waitForDrain(metricsUrl, headers, options.drainTimeout);
  return {
    measurement,
    apply: measureApply(before, [...during, ...drain.snapshots], loadEnded, drain.drained),
  };
}

/** Resolves with `work`, or rejects as soon as `signal` aborts (the work is left to the exit). */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** `env` (a built-in receiver's) when it names no receiver to start: `--url` was given. */
async function startTarget(
  options: BenchOptions,
  env: Record<string, string> | null,
  workDir: string,
  cpu: number | null,
  signal: AbortSignal | undefined,
): Promise<Target> {
  if (options.url || !env) {
    const url = new URL(options.url ?? '');
    const metricsUrl = options.e2e ? (options.metricsUrl ?? `${url.origin}/metrics`) : null;
    if (metricsUrl) await scrape(metricsUrl, options.headers);
    return {
      endpoint: { url: url.href, headers: options.headers },
      metricsUrl,
      info: {
        kind: 'url',
        url: `${url.origin}${url.pathname}${url.search ? '?…' : ''}`,
        headerNames: Object.keys(options.headers),
        env: null,
        pinnedCpu: null,
      },
      process: null,
      env: null,
    };
  }
  const receiver = await startReceiverProcess({
    name: 'receiver',
    script: compiledReceiver(),
    env,
    logPath: join(workDir, 'receiver.log'),
    cpu: cpu ?? undefined,
    signal,
    nodeArgs: [
      // A receiver-only process holds every accepted batch for the whole run.
      ...(options.role === 'receiver' ? ['--max-old-space-size=12288'] : []),
      ...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProf)}`] : []),
    ],
  });
  const shown = Object.fromEntries(
    Object.entries(env).map(([key, value]) => [key, key === 'AUTH_TOKENS' ? '(redacted)' : value]),
  );
  return {
    endpoint: { url: `${receiver.url}${env.WEBHOOK_PATH ?? '/webhook'}`, headers: options.headers },
    metricsUrl: options.role === 'all' ? `${receiver.url}/metrics` : null,
    info: {
      kind: 'built-in',
      url: `${receiver.url}/webhook`,
      headerNames: Object.keys(options.headers),
      env: shown,
      pinnedCpu: cpu,
    },
    process: receiver,
    env,
  };
}

/** The built-in receiver's environment: the chosen QUEUE/STORE/ROLE, a fresh store, then `--env`. */
export function receiverEnv(
  options: BenchOptions,
  workDir: string,
  environment: Record<string, string | undefined>,
): Record<string, string> {
  const passed = Object.fromEntries(
    ['REDIS_URL', 'DATABASE_URL'].flatMap((key) =>
      environment[key] ? [[key, environment[key] as string]] : [],
    ),
  );
  return {
    QUEUE: options.queue,
    STORE: options.store,
    ROLE: options.role,
    SQLITE_PATH: join(workDir, 'cohorts.db'),
    // Redis keys and Postgres tables of this run only.
    KEY_PREFIX: `bench-${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'info',
    // Receiver-only: nothing will ever drain what it holds, so do not wait for it at the end.
    SHUTDOWN_TIMEOUT_MS: options.role === 'receiver' ? '1000' : '60000',
    // The ack path, isolated: the queue is sized for the run, so nothing answers 503.
    ...(options.role === 'receiver' ? { QUEUE_MAX_USERS: '1000000000' } : {}),
    ...passed,
    ...options.env,
  };
}

const execFileAsync = promisify(execFile);

async function runBareApplyProcess(
  options: BenchOptions,
  receiverEnvironment: Record<string, string>,
  runs: RunRecord[],
  workDir: string,
  cpu: number | null,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<BareApplyResult> {
  const accepted = runs.reduce((sum, run) => sum + (run.apply?.acceptedUsers ?? 0), 0);
  const plan: BareApplyPlan = {
    generator: generatorOptions(options),
    batches: Math.max(1, Math.round(accepted / options.users)),
    maxSeconds: 60,
    // The SQLite store commits what it is handed together: as many batches as fill one group.
    inFlight: receiverEnvironment.STORE === 'sqlite' ? Math.ceil(defaultGroupCommitUsers / options.users) : 1,
  };
  const env = {
    ...receiverEnvironment,
    APPLY_THREAD: 'off',
    SQLITE_PATH: join(workDir, 'bare.db'),
    KEY_PREFIX: `bench-bare-${randomBytes(3).toString('hex')}`,
    PATH: process.env.PATH ?? '',
  };
  const [command, ...args] = nodeCommand('bench/bare-apply.ts', [], cpu ?? undefined);
  const claim = await claimStorage(env, false, notes);
  try {
    const { stdout } = await execFileAsync(command, [...args, JSON.stringify(plan)], {
      cwd: repositoryRoot,
      env,
      maxBuffer: 1024 * 1024,
      ...(signal ? { signal } : {}),
    });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as BareApplyResult;
  } finally {
    await cleanUp(claim, notes);
  }
}

/** Where the receiver with `env` finds Postgres (its configuration's default when unset). */
const databaseUrlOf = (env: Record<string, string>) =>
  env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres';

/**
 * Notes whether the run will own the Postgres schema its KEY_PREFIX names: only one that did not
 * exist before is dropped at the end, so `--env KEY_PREFIX=` naming a live schema never loses it.
 * A prefix the bench made up is fresh even when Postgres cannot be asked yet.
 */
async function claimStorage(
  env: Record<string, string>,
  prefixGiven: boolean,
  notes: string[],
): Promise<StorageClaim> {
  if (env.STORE !== 'postgres') return { env, ownsSchema: false };
  const prefix = env.KEY_PREFIX ?? '';
  try {
    const existed = await postgresSchemaExists(databaseUrlOf(env), prefix);
    if (existed) notes.push(`the Postgres schema of KEY_PREFIX ${prefix} existed before the run: kept`);
    return { env, ownsSchema: !existed };
  } catch (error) {
    if (prefixGiven) {
      notes.push(
        `could not check the Postgres schema of KEY_PREFIX ${prefix} before the run, so it is kept: ${(error as Error).message}`,
      );
    }
    return { env, ownsSchema: !prefixGiven };
  }
}

/** Removes the run's Redis keys, and the Postgres schema when the run created it. */
async function cleanUp(claim: StorageClaim | null, notes: string[]) {
  if (!claim) return;
  const { env } = claim;
  const prefix = env.KEY_PREFIX ?? '';
  if (env.QUEUE === 'redis' || env.STORE === 'redis') {
    try {
      await removeRedisKeys(env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix);
    } catch (error) {
      notes.push(`could not remove the run's Redis keys (${prefix}:*): ${(error as Error).message}`);
    }
  }
  if (claim.ownsSchema) {
    try {
      await dropPostgresSchema(databaseUrlOf(env), prefix);
    } catch (error) {
      notes.push(
        `could not drop the run's Postgres schema (KEY_PREFIX ${prefix}): ${(error as Error).message}`,
      );
    }
  }
}
