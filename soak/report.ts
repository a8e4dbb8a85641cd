/** @module Turns a soak run into the table and the trends a reader checks for leaks and drift. */
import type { SoakReport, SoakSample } from './run-soak.ts';

export interface SoakTrends {
  /** Least-squares slope over the second half of the run (after warm-up), per minute. */
  heapMiBPerMinute: number | null;
  rssMiBPerMinute: number | null;
  /** First and last sample with a value, to show the level and where it ended. */
  rssMiB: { first: number; last: number; max: number } | null;
  heapUsedMiB: { first: number; last: number; max: number } | null;
  /** p99 latency: median of the windows in the first half vs the second half. */
  latencyP99Ms: { firstHalf: number; secondHalf: number; worst: number } | null;
  eventLoopDelayP99Ms: { firstHalf: number; secondHalf: number; worst: number } | null;
}

/** True when the report has every part a reader needs: samples with each measure, totals, a verdict on the process. */
export function isComplete(report: SoakReport): boolean {
  const loaded = report.samples.filter((sample) => sample.requests > 0);
  return (
    loaded.length >= 2 &&
    loaded.every(
      (sample) =>
        sample.latencyMs !== null &&
        sample.eventLoopDelayMs !== null &&
        sample.rssMiB !== null &&
        sample.heapUsedMiB !== null &&
        sample.queueUsers !== null,
    ) &&
    report.totals.requests > 0
  );
}

export function soakTrends(samples: SoakSample[]): SoakTrends {
  const loaded = samples.filter((sample) => sample.requests > 0);
  const secondHalf = loaded.slice(Math.floor(loaded.length / 2));
  const firstHalf = loaded.slice(0, Math.floor(loaded.length / 2));
  const levels = (pick: (sample: SoakSample) => number | null) => {
    const values = samples.map(pick).filter((value): value is number => value !== null);
    if (values.length === 0) return null;
    return { first: values[0] ?? 0, last: values.at(-1) ?? 0, max: Math.max(...values) };
  };
  const halves = (pick: (sample: SoakSample) => number | undefined) => {
    const values = (part: SoakSample[]) =>
      part.map(pick).filter((value): value is number => value !== undefined);
    const all = values(loaded);
    if (all.length === 0) return null;
    return {
      firstHalf: median(values(firstHalf.length > 0 ? firstHalf : loaded)),
      secondHalf: median(values(secondHalf)),
      worst: Math.max(...all),
    };
  };
  return {
    heapMiBPerMinute: slopePerMinute(secondHalf, (sample) => sample.heapUsedMiB),
    rssMiBPerMinute: slopePerMinute(secondHalf, (sample) => sample.rssMiB),
    rssMiB: levels((sample) => sample.rssMiB),
    heapUsedMiB: levels((sample) => sample.heapUsedMiB),
    latencyP99Ms: halves((sample) => sample.latencyMs?.p99),
    eventLoopDelayP99Ms: halves((sample) => sample.eventLoopDelayMs?.p99),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

function slopePerMinute(samples: SoakSample[], pick: (sample: SoakSample) => number | null): number | null {
  const points = samples
    .map((sample) => [sample.atSeconds / 60, pick(sample)] as const)
    .filter((point): point is readonly [number, number] => point[1] !== null);
  if (points.length < 3) return null;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return variance === 0 ? null : covariance / variance;
}

const fixed = (value: number | null | undefined, digits = 1) => (value == null ? '-' : value.toFixed(digits));

/** The report as text: one row per sample, then totals and trends. */
export function formatSoakReport(report: SoakReport): string {
  const { options, totals, drain, receiver } = report;
  const header = '    t(s)    req  err skip   p50ms   p99ms   maxms  eld99ms eldmaxms  rssMiB heapMiB  queue';
  const rows = report.samples.map((sample) =>
    [
      fixed(sample.atSeconds, 0).padStart(8),
      String(sample.requests).padStart(6),
      String(sample.errors).padStart(4),
      String(sample.skipped).padStart(4),
      fixed(sample.latencyMs?.p50).padStart(7),
      fixed(sample.latencyMs?.p99).padStart(7),
      fixed(sample.latencyMs?.max).padStart(7),
      fixed(sample.eventLoopDelayMs?.p99).padStart(8),
      fixed(sample.eventLoopDelayMs?.max).padStart(8),
      fixed(sample.rssMiB).padStart(7),
      fixed(sample.heapUsedMiB).padStart(7),
      fixed(sample.queueUsers, 0).padStart(6),
    ].join(' '),
  );
  const trends = soakTrends(report.samples);
  const errorKinds = Object.entries(report.errorKinds).map(([kind, count]) => `${kind} ×${count}`);
  return [
    `Soak: ${fixed(report.loadSeconds / 60, 1)} min at ${options.rate} req/s, ${options.users} users × ${options.properties} properties a body (started ${report.startedAt})`,
    '',
    header,
    ...rows,
    '',
    `requests ${totals.requests} (accepted ${totals.accepted}, duplicate ${totals.duplicates}), errors ${totals.errors}${errorKinds.length > 0 ? ` [${errorKinds.join(', ')}]` : ''}, skipped ${totals.skipped}, users sent ${totals.usersSent}`,
    `RSS MiB: first ${fixed(trends.rssMiB?.first)}, last ${fixed(trends.rssMiB?.last)}, max ${fixed(trends.rssMiB?.max)}; trend over the second half ${fixed(trends.rssMiBPerMinute, 2)} MiB/min`,
    `heap MiB: first ${fixed(trends.heapUsedMiB?.first)}, last ${fixed(trends.heapUsedMiB?.last)}, max ${fixed(trends.heapUsedMiB?.max)}; trend over the second half ${fixed(trends.heapMiBPerMinute, 2)} MiB/min`,
    `ack latency p99 ms (median of windows): first half ${fixed(trends.latencyP99Ms?.firstHalf)}, second half ${fixed(trends.latencyP99Ms?.secondHalf)}, worst window ${fixed(trends.latencyP99Ms?.worst)}`,
    `event-loop delay p99 ms (median of windows): first half ${fixed(trends.eventLoopDelayP99Ms?.firstHalf)}, second half ${fixed(trends.eventLoopDelayP99Ms?.secondHalf)}, worst window ${fixed(trends.eventLoopDelayP99Ms?.worst)}`,
    `drain after the load: ${drain.drained ? `${drain.seconds} s` : `NOT drained within ${drain.seconds} s`}`,
    `receiver: ${receiver.stayedUp ? 'stayed up' : 'DIED during the run'}; exit code after SIGTERM ${receiver.exitCode}${receiver.logPath ? `; log kept at ${receiver.logPath}` : ''}`,
  ].join('\n');
}
