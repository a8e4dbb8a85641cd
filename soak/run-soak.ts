/**
 * @module The soak: a steady, paced load of Amplitude-shaped batches against a receiver in its own
 * process for a long time, sampling its memory, event-loop delay and latency as it goes, so a leak
 * or a slow drift shows as a trend rather than hiding in one average.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { createPayloadGenerator } from '../bench/payload-generator.ts';
import { type ReceiverProcess, startReceiverProcess } from '../bench/receiver-process.ts';
import type { SoakOptions } from './options.ts';

/** One window of the run, from the sender's side and from the receiver's /metrics. */
export interface SoakSample {
  /** Seconds since the load started, at the end of the window. */
  atSeconds: number;
  /** Requests answered in the window, and how. */
  requests: number;
  accepted: number;
  duplicates: number;
  /** Answers other than 200, and requests that got no answer. */
  errors: number;
  /** Sends skipped because `maxInFlight` requests were all still waiting. */
  skipped: number;
  latencyMs: { p50: number; p99: number; max: number } | null;
  /** The receiver's event-loop delay in the window (prom-client resets it at each scrape). */
  eventLoopDelayMs: { p99: number; max: number } | null;
  rssMiB: number | null;
  heapUsedMiB: number | null;
  queueUsers: number | null;
  /** Users applied to the store since start (cumulative). */
  appliedUsers: number | null;
}

export interface SoakReport {
  options: SoakOptions;
  startedAt: string;
  /** Seconds the load actually ran. */
  loadSeconds: number;
  samples: SoakSample[];
  totals: {
    requests: number;
    accepted: number;
    duplicates: number;
    errors: number;
    skipped: number;
    usersSent: number;
  };
  /** Errors seen, by status (or `network`), so a failure says what it was. */
  errorKinds: Record<string, number>;
  drain: { drained: boolean; seconds: number };
  /** `logPath` is kept (and named) only when the receiver died or exited badly. */
  receiver: { stayedUp: boolean; exitCode: number | null; logPath: string | null };
}

interface Window {
  latencies: number[];
  accepted: number;
  duplicates: number;
  errors: number;
  skipped: number;
}

const emptyWindow = (): Window => ({ latencies: [], accepted: 0, duplicates: 0, errors: 0, skipped: 0 });
const mib = (bytes: number | undefined) => (bytes === undefined ? null : bytes / 2 ** 20);
const ms = (seconds: number | undefined) => (seconds === undefined ? null : seconds * 1000);

/** Runs the soak; `onSample` sees each sample as it is taken (the CLI prints progress with it). */
export async function runSoak(
  options: SoakOptions,
  onSample: (sample: SoakSample) => void = () => {},
): Promise<SoakReport> {
  const workDir = await mkdtemp(join(tmpdir(), 'cohort-receiver-soak-'));
  let healthy = false;
  try {
    const receiver = await startReceiverProcess({
      name: 'the receiver',
      env: {
        SQLITE_PATH: join(workDir, 'cohorts.db'),
        LOG_LEVEL: 'warn',
        // One log line per membership change would make the soak measure the log sink.
        SINKS: 'none',
        ...options.env,
      },
      logPath: join(workDir, 'receiver.log'),
    });
    try {
      const report = await soak(options, receiver, onSample);
      healthy = report.receiver.stayedUp && report.receiver.exitCode === 0;
      return healthy ? { ...report, receiver: { ...report.receiver, logPath: null } } : report;
    } finally {
      await receiver.stop();
    }
  } finally {
    // The folder (SQLite file and receiver log) stays for a post-mortem only when something broke.
    if (healthy) await rm(workDir, { recursive: true, force: true });
  }
}

async function soak(
  options: SoakOptions,
  receiver: ReceiverProcess,
  onSample: (sample: SoakSample) => void,
): Promise<SoakReport> {
  const generator = createPayloadGenerator({
    users: options.users,
    properties: options.properties,
    shape: 'default',
    removeRatio: options.removeRatio,
    cohorts: 8,
    duplicateRate: options.duplicateRate,
    seed: options.seed,
    templateBudgetBytes: 32 * 1024 * 1024,
  });
  const dispatcher = new Agent({ connections: options.maxInFlight, keepAliveTimeout: 4000 });
  const startedAt = new Date().toISOString();
  const totals = { requests: 0, accepted: 0, duplicates: 0, errors: 0, skipped: 0, usersSent: 0 };
  const errorKinds: Record<string, number> = {};
  const samples: SoakSample[] = [];
  let window = emptyWindow();
  let inFlight = 0;
  const pending = new Set<Promise<void>>();

  const send = async () => {
    const { body, users } = generator.next();
    const started = performance.now();
    try {
      const response = await request(`${receiver.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        dispatcher,
      });
      const answer = (await response.body.json()) as { status?: string };
      window.latencies.push(performance.now() - started);
      if (response.statusCode === 200 && answer.status === 'duplicate') window.duplicates += 1;
      else if (response.statusCode === 200) window.accepted += 1;
      else countError(String(response.statusCode));
      totals.usersSent += users;
    } catch (error) {
      countError(`network: ${(error as Error).message}`);
    }
  };
  const countError = (kind: string) => {
    window.errors += 1;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };

  const takeSample = async (atSeconds: number) => {
    const done = window;
    window = emptyWindow();
    const metrics = await scrape(receiver.url);
    const sorted = done.latencies.sort((a, b) => a - b);
    const sample: SoakSample = {
      atSeconds,
      requests: sorted.length + done.errors,
      accepted: done.accepted,
      duplicates: done.duplicates,
      errors: done.errors,
      skipped: done.skipped,
      latencyMs:
        sorted.length === 0
          ? null
          : { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? 0 },
      eventLoopDelayMs:
        metrics.get('nodejs_eventloop_lag_p99_seconds') === undefined
          ? null
          : {
              p99: ms(metrics.get('nodejs_eventloop_lag_p99_seconds')) ?? 0,
              max: ms(metrics.get('nodejs_eventloop_lag_max_seconds')) ?? 0,
            },
      rssMiB: mib(metrics.get('process_resident_memory_bytes')),
      heapUsedMiB: mib(metrics.get('nodejs_heap_size_used_bytes')),
      queueUsers: metrics.get('cohort_receiver_queue_users') ?? null,
      appliedUsers: metrics.get('cohort_receiver_applied_users_total') ?? null,
    };
    for (const key of ['requests', 'accepted', 'duplicates', 'errors', 'skipped'] as const)
      totals[key] += sample[key];
    samples.push(sample);
    onSample(sample);
  };

  // Open loop: request i leaves at start + i / rate whatever the answers, as Amplitude's senders do.
  const loadStart = performance.now();
  const intervalMs = 1000 / options.rate;
  const endMs = options.durationSeconds * 1000;
  let nextSampleMs = options.sampleSeconds * 1000;
  await takeSample(0); // resets the receiver's event-loop histogram; the baseline row
  for (let index = 0; ; index++) {
    const dueMs = index * intervalMs;
    if (dueMs >= endMs) break;
    while (nextSampleMs <= dueMs) {
      await sleep(Math.max(0, nextSampleMs - (performance.now() - loadStart)));
      await takeSample(nextSampleMs / 1000);
      nextSampleMs += options.sampleSeconds * 1000;
    }
    await sleep(Math.max(0, dueMs - (performance.now() - loadStart)));
    if (inFlight >= options.maxInFlight) {
      window.skipped += 1;
      continue;
    }
    inFlight += 1;
    const sent = send().finally(() => {
      inFlight -= 1;
      pending.delete(sent);
    });
    pending.add(sent);
  }
  await Promise.all(pending);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  await takeSample(Math.round(loadSeconds * 10) / 10);

  const drainStarted = performance.now();
  const drained = await waitForDrain(receiver.url, 120_000);
  const drain = { drained, seconds: Math.round((performance.now() - drainStarted) / 100) / 10 };
  if (drained) {
    // Memory once idle, after a second of event-loop samples: where a leak would stay.
    await sleep(1000);
    await takeSample(Math.round((performance.now() - loadStart) / 100) / 10);
  }
  await dispatcher.close();
  const stayedUp = receiver.isRunning();
  const exitCode = await receiver.stop();
  return {
    options,
    startedAt,
    loadSeconds,
    samples,
    totals,
    errorKinds,
    drain,
    receiver: { stayedUp, exitCode, logPath: receiver.logPath },
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

/** The receiver's /metrics as name{labels} -> value; empty if it does not answer. */
async function scrape(url: string): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      samples.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  } catch {
    // A receiver that stopped answering shows as empty samples, and in `receiver.stayedUp`.
  }
  return samples;
}

async function waitForDrain(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const metrics = await scrape(url);
    if (metrics.get('cohort_receiver_queue_batches') === 0) return true;
    await sleep(250);
  }
  return false;
}
