/**
 * @module The result document (what `--json` writes) and its text rendering: runs pooled per
 * server and mode, the target as ratios of the baseline, apply figures, the verdict.
 */
import type { ApplyMeasurement, ApplySummary } from './apply-watch.ts';
import { summarizeApply } from './apply-watch.ts';
import type { BareApplyResult } from './bare-apply.ts';
import {
  type LatencySummary,
  latencySpectrum,
  mergeSorted,
  percentile,
  type SpectrumPoint,
  summarizeLatency,
} from './latency.ts';
import type { Machine } from './machine.ts';
import type { Measurement } from './measurement.ts';
import { formatMs, formatVerdict, type Verdict } from './verdict.ts';

export type ModeName = 'saturate' | 'paced';
export type ServerName = 'target' | 'baseline';

/** One measured run: one server, one mode, one round. */
export interface RunRecord {
  mode: ModeName;
  round: number;
  server: ServerName;
  measurement: Measurement;
  /** Built-in or `--e2e` targets: what the worker did with this run's users. */
  apply?: ApplyMeasurement | undefined;
}

export interface ServerSummary {
  runs: number;
  seconds: number;
  responses: number;
  ok: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  timeouts: number;
  errors: number;
  /** 2xx answers per second: a fast 503 is not throughput. */
  requestsPerSecond: number;
  usersPerSecond: number;
  /** Request body bytes per second, 2xx answers only. */
  bytesPerSecond: number;
  latency: LatencySummary;
  spectrum: SpectrumPoint[];
  /** Paced runs: how late the pacer sent, ms. */
  sendLag: { p99: number; max: number } | null;
}

export interface Ratios {
  /** target ÷ baseline: above 1 means the target answered more per second. */
  requestsPerSecond: number;
  /** target ÷ baseline: below 1 means the target was faster. */
  p50: number;
  p99: number;
  /** Each round's own ratios, to show how much they wander. */
  rounds: { round: number; requestsPerSecond: number; p99: number }[];
}

export interface ModeSummary {
  mode: ModeName;
  /** Paced runs' arrival rate, requests/s. */
  rate: number | null;
  target: ServerSummary;
  baseline: ServerSummary | null;
  ratios: Ratios | null;
  apply: ApplySummary | null;
}

export interface TargetInfo {
  kind: 'built-in' | 'url';
  /** The webhook URL, its query string (which may hold a secret) redacted. */
  url: string;
  /** Header names sent (values are never written). */
  headerNames: string[];
  /** Built-in: the environment the bench gave the receiver (QUEUE, STORE, ROLE, …). */
  env: Record<string, string> | null;
  pinnedCpu: number | null;
}

export interface BenchResult {
  schema: 'cohort-receiver-bench/1';
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Machine;
  target: TargetInfo;
  traffic: {
    shape: string;
    usersPerBody: number;
    properties: number;
    removeRatio: number;
    cohorts: number;
    duplicateRate: number;
    meanBodyBytes: number;
    templates: number;
    distinctUsers: number;
    seed: number;
  };
  load: {
    connections: number;
    rounds: number;
    seconds: number;
    requests: number | null;
    warmupSeconds: number;
    timeoutMs: number;
  };
  /** Time the generator took per body, and its share of the load generator's wall time. */
  generator: { bodies: number; microsecondsPerBody: number; shareOfRunTime: number };
  modes: ModeSummary[];
  /** `--e2e` on the built-in receiver: the bare upsert loop on the same store, and the receiver's drain rate ÷ it. */
  bareApply: (BareApplyResult & { ratio: number | null }) | null;
  verdict: Verdict;
  budget: { p99Ms: number; timeoutMs: number };
  notes: string[];
}

export function summarizeServer(measurements: Measurement[]): ServerSummary {
  const sum = (pick: (m: Measurement) => number) => measurements.reduce((total, m) => total + pick(m), 0);
  const seconds = sum((m) => m.seconds);
  const statusCodes: Record<string, number> = {};
  for (const m of measurements) {
    for (const [status, count] of Object.entries(m.statusCodes)) {
      statusCodes[status] = (statusCodes[status] ?? 0) + count;
    }
  }
  const latencies = mergeSorted(measurements.map((m) => m.latencies));
  const lags = measurements.flatMap((m) => (m.sendLag ? [m.sendLag] : []));
  const per = (total: number) => (seconds > 0 ? total / seconds : 0);
  return {
    runs: measurements.length,
    seconds,
    responses: sum((m) => m.responses),
    ok: sum((m) => m.ok),
    non2xx: sum((m) => m.non2xx),
    statusCodes,
    timeouts: sum((m) => m.timeouts),
    errors: sum((m) => m.errors),
    requestsPerSecond: per(sum((m) => m.ok)),
    usersPerSecond: per(sum((m) => m.okUsers)),
    bytesPerSecond: per(sum((m) => m.okBytes)),
    latency: summarizeLatency(latencies),
    spectrum: latencySpectrum(latencies),
    sendLag:
      lags.length === 0
        ? null
        : { p99: Math.max(...lags.map((lag) => lag.p99)), max: Math.max(...lags.map((lag) => lag.max)) },
  };
}

export function summarizeMode(mode: ModeName, rate: number | null, runs: RunRecord[]): ModeSummary {
  const of = (server: ServerName) => runs.filter((run) => run.mode === mode && run.server === server);
  const targetRuns = of('target');
  const baselineRuns = of('baseline');
  const target = summarizeServer(targetRuns.map((run) => run.measurement));
  const baseline =
    baselineRuns.length > 0 ? summarizeServer(baselineRuns.map((run) => run.measurement)) : null;
  const applies = targetRuns.flatMap((run) => (run.apply ? [run.apply] : []));
  return {
    mode,
    rate,
    target,
    baseline,
    ratios: baseline ? computeRatios(targetRuns, baselineRuns, target, baseline) : null,
    apply: applies.length > 0 ? summarizeApply(applies) : null,
  };
}

function computeRatios(
  targetRuns: RunRecord[],
  baselineRuns: RunRecord[],
  target: ServerSummary,
  baseline: ServerSummary,
): Ratios {
  const rounds = targetRuns.flatMap((run) => {
    const pair = baselineRuns.find((other) => other.round === run.round);
    if (!pair) return [];
    const rate = (m: Measurement) => (m.seconds > 0 ? m.ok / m.seconds : 0);
    return [
      {
        round: run.round,
        requestsPerSecond: rate(run.measurement) / rate(pair.measurement),
        p99: percentile(run.measurement.latencies, 0.99) / percentile(pair.measurement.latencies, 0.99),
      },
    ];
  });
  return {
    requestsPerSecond: target.requestsPerSecond / baseline.requestsPerSecond,
    p50: target.latency.p50 / baseline.latency.p50,
    p99: target.latency.p99 / baseline.latency.p99,
    rounds,
  };
}

/** 1234 -> "1,234"; 1234567 -> "1.23M"; 12345 -> "12.3k". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (value >= 1e4) return `${(value / 1e3).toPrecision(3)}k`;
  return Math.round(value).toLocaleString('en-US');
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} KB`;
  return `${Math.round(bytes)} B`;
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? ratio.toFixed(2) : '-';
}

/** Right-aligned columns; the first column left-aligned. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[index] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const header = [
  '',
  'req/s',
  'users/s',
  'MB/s',
  'p50 ms',
  'p90',
  'p99',
  'p99.9',
  'max',
  'non-2xx',
  'timeouts',
  'errors',
];

function serverRow(name: string, s: ServerSummary): string[] {
  return [
    name,
    formatCount(s.requestsPerSecond),
    formatCount(s.usersPerSecond),
    (s.bytesPerSecond / 1e6).toFixed(1),
    formatMs(s.latency.p50),
    formatMs(s.latency.p90),
    formatMs(s.latency.p99),
    formatMs(s.latency.p999),
    formatMs(s.latency.max),
    String(s.non2xx),
    String(s.timeouts),
    String(s.errors),
  ];
}

export function formatMode(mode: ModeSummary, connections: number): string {
  const title =
    mode.mode === 'saturate'
      ? `saturated: closed loop, ${connections} connections as fast as answers come (peak throughput)`
      : `paced: open loop at ${mode.rate} req/s over ${connections} connections, latency from the scheduled send time`;
  const rows = [header, serverRow('target', mode.target)];
  if (mode.baseline) rows.push(serverRow('baseline', mode.baseline));
  if (mode.ratios) {
    const r = mode.ratios;
    rows.push([
      'ratio',
      formatRatio(r.requestsPerSecond),
      '',
      '',
      formatRatio(r.p50),
      '',
      formatRatio(r.p99),
    ]);
  }
  const lines = [title, table(rows)];
  if (mode.ratios && mode.ratios.rounds.length > 1) {
    const each = mode.ratios.rounds.map(
      (round) => `${formatRatio(round.requestsPerSecond)} req/s, ${formatRatio(round.p99)} p99`,
    );
    lines.push(`ratio by round (target ÷ baseline): ${each.join(' | ')}`);
  }
  const codes = Object.entries(mode.target.statusCodes).filter(([status]) => !status.startsWith('2'));
  if (codes.length > 0)
    lines.push(`target non-2xx: ${codes.map(([status, n]) => `${n} × ${status}`).join(', ')}`);
  if (mode.target.sendLag && mode.target.sendLag.p99 > 5) {
    lines.push(
      `note: the pacer sent up to ${formatMs(mode.target.sendLag.max)} ms late (load generator busy)`,
    );
  }
  if (mode.apply) lines.push(formatApply(mode.apply));
  return lines.join('\n');
}

export function formatApply(apply: ApplySummary): string {
  const seconds = (value: number) => (Number.isFinite(value) ? `≈ ${formatMs(value * 1000)} ms` : '-');
  const rate =
    apply.drainUsersPerSecond === null
      ? 'apply kept up (no backlog to time)'
      : `sustained apply ${formatCount(apply.drainUsersPerSecond)} users/s`;
  const unavailable = Object.entries(apply.unavailable).map(([reason, n]) => `${n} × 503 ${reason}`);
  return [
    `apply: ${formatCount(apply.appliedUsers)} of ${formatCount(apply.acceptedUsers)} accepted users applied` +
      `${apply.drained ? '' : ` (NOT drained: ${formatCount(apply.unappliedUsers)} waiting)`}; ` +
      `lag p50 ${seconds(apply.lagP50Seconds)}, p99 ${seconds(apply.lagP99Seconds)}; ${rate}`,
    ...(unavailable.length > 0 ? [`       ${unavailable.join(', ')}`] : []),
  ].join('\n');
}

export function formatReport(result: BenchResult): string {
  const { machine, target, traffic, load } = result;
  const pin =
    target.pinnedCpu === null
      ? 'not pinned'
      : `servers pinned to CPU ${target.pinnedCpu}, load generator on the other CPU`;
  const targetLine =
    target.kind === 'url'
      ? `${target.url}${target.headerNames.length > 0 ? ` (headers: ${target.headerNames.join(', ')})` : ''}`
      : `built-in receiver ${Object.entries(target.env ?? {})
          .filter(([key]) => ['QUEUE', 'STORE', 'ROLE'].includes(key))
          .map(([key, value]) => `${key}=${value}`)
          .join(' ')}`;
  const length = load.requests === null ? `${load.seconds} s` : `${load.requests} requests`;
  const lines = [
    `cohort-receiver bench, ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    `machine  ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverage}; ${pin}`,
    `target   ${targetLine}`,
    `traffic  ${formatCount(traffic.usersPerBody)} users/body (${formatBytes(traffic.meanBodyBytes)}, ${traffic.shape} shape, ` +
      `${traffic.properties} properties), ${Math.round(traffic.removeRatio * 100)}% removes, ${traffic.cohorts} cohorts, ` +
      `${Math.round(traffic.duplicateRate * 100)}% duplicates`,
    `load     ${load.rounds} round${load.rounds === 1 ? '' : 's'} × ${length} per server, alternating target and baseline` +
      `${load.warmupSeconds > 0 ? ` (each after ${load.warmupSeconds} s of warm-up)` : ''}; timeout ${load.timeoutMs} ms`,
    '',
  ];
  for (const mode of result.modes) lines.push(formatMode(mode, load.connections), '');
  if (result.bareApply) {
    const bare = result.bareApply;
    lines.push(
      `bare apply loop on the same store: ${formatCount(bare.usersPerSecond)} users/s` +
        (bare.ratio === null ? '' : `; receiver's sustained apply = ${formatRatio(bare.ratio)} of it`),
      '',
    );
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  lines.push(
    `generator: ${result.generator.microsecondsPerBody.toFixed(1)} µs per body ` +
      `(${(result.generator.shareOfRunTime * 100).toFixed(1)}% of the load generator's time)`,
  );
  lines.push(`verdict: ${formatVerdict(result.verdict)}`);
  return lines.join('\n');
}
