/**
 * @module End to end: reads the receiver's Prometheus metrics (docs/design.md) during and
 * after a run, to tell how long acknowledged users took to be applied and how fast the worker
 * applies them once it has a backlog.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const prefix = 'cohort_receiver_';

/** What one scrape of /metrics says, reduced to the series the bench reads. */
export interface MetricsSnapshot {
  /** performance.now() when the answer arrived. */
  at: number;
  appliedUsers: number;
  queueUsers: number;
  /** Users in accepted batches, both directions. */
  acceptedUsers: number;
  /** Batches answered 503, by reason. */
  unavailable: Record<string, number>;
  /** Cumulative apply-lag histogram: upper bound (s) -> count; `Infinity` holds the total. */
  applyLag: Map<number, number>;
}

/** Parses Prometheus text exposition into `name{labels}` -> value (labels kept as written). */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

export function toSnapshot(samples: Map<string, number>, at: number): MetricsSnapshot {
  const snapshot: MetricsSnapshot = {
    at,
    appliedUsers: samples.get(`${prefix}applied_users_total`) ?? 0,
    queueUsers: samples.get(`${prefix}queue_users`) ?? 0,
    acceptedUsers: 0,
    unavailable: {},
    applyLag: new Map(),
  };
  for (const [key, value] of samples) {
    if (key.startsWith(`${prefix}users_total{`)) snapshot.acceptedUsers += value;
    else if (key.startsWith(`${prefix}batches_total{`) && key.includes('outcome="unavailable"')) {
      const reason = /reason="([^"]*)"/.exec(key)?.[1] ?? '';
      snapshot.unavailable[reason] = (snapshot.unavailable[reason] ?? 0) + value;
    } else if (key.startsWith(`${prefix}apply_lag_seconds_bucket{`)) {
      const bound = /le="([^"]+)"/.exec(key)?.[1];
      if (bound !== undefined)
        snapshot.applyLag.set(bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound), value);
    }
  }
  return snapshot;
}

export async function scrape(metricsUrl: string, headers: Record<string, string>): Promise<MetricsSnapshot> {
  const response = await fetch(metricsUrl, { headers, signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${metricsUrl} answered ${response.status}: ${text.slice(0, 200)}`);
  if (!text.includes(`${prefix}applied_users_total`)) {
    throw new Error(`GET ${metricsUrl} has no ${prefix}applied_users_total: not a cohort-receiver?`);
  }
  return toSnapshot(parsePrometheusText(text), performance.now());
}

/**
 * The quantile of the observations between two cumulative histograms, interpolated linearly
 * within a bucket as Prometheus's histogram_quantile() does. NaN when nothing was observed.
 */
export function histogramQuantile(before: Map<number, number>, after: Map<number, number>, quantile: number) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((bound) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = quantile * total;
  for (let i = 0; i < bounds.length; i++) {
    const count = counts[i] as number;
    if (count < rank) continue;
    const upper = bounds[i] as number;
    const lower = i === 0 ? 0 : (bounds[i - 1] as number);
    if (upper === Number.POSITIVE_INFINITY) return lower;
    const below = i === 0 ? 0 : (counts[i - 1] as number);
    return lower + (upper - lower) * ((rank - below) / Math.max(1, count - below));
  }
  return bounds.at(-2) ?? Number.NaN;
}

/** Scrapes every `intervalMs` until stopped; a failed scrape is skipped, not fatal. */
export function watchMetrics(metricsUrl: string, headers: Record<string, string>, intervalMs = 250) {
  const snapshots: MetricsSnapshot[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        snapshots.push(await scrape(metricsUrl, headers));
      } catch {
        // The target may be too busy to answer in time; the next scrape will do.
      }
      await sleep(intervalMs);
    }
  })();
  return {
    snapshots,
    async stop() {
      running = false;
      await loop;
      return snapshots;
    },
  };
}

/** Scrapes until the queue is empty (or the timeout passes); returns every snapshot taken. */
export async function waitForDrain(
  metricsUrl: string,
  headers: Record<string, string>,
  timeoutSeconds: number,
  intervalMs = 100,
): Promise<{ drained: boolean; snapshots: MetricsSnapshot[] }> {
  const snapshots: MetricsSnapshot[] = [];
  const deadline = performance.now() + timeoutSeconds * 1000;
  while (performance.now() < deadline) {
    const snapshot = await scrape(metricsUrl, headers);
    snapshots.push(snapshot);
    if (snapshot.queueUsers === 0) return { drained: true, snapshots };
    await sleep(intervalMs);
  }
  return { drained: false, snapshots };
}

export interface ApplyMeasurement {
  /** Users acknowledged (accepted, not duplicates) between the first and last snapshot. */
  acceptedUsers: number;
  appliedUsers: number;
  /** Accepted but not applied when the watch ended (0 when the queue drained). */
  unappliedUsers: number;
  drained: boolean;
  /** The apply-lag histogram of the batches applied: cumulative [upper bound s, count] pairs. */
  lagHistogram: [number, number][];
  /** Seconds from the end of the load until the queue was empty. */
  drainSeconds: number;
  /**
   * Users applied, and seconds spent, while the worker had a backlog and no load competed for the
   * CPU (after the load stopped): their ratio is the worker's sustained apply capacity. Zero when
   * the queue never held enough to measure (apply kept up with the load).
   */
  drainUsers: number;
  drainBusySeconds: number;
  /** 503s by reason during the watch. */
  unavailable: Record<string, number>;
}

/**
 * Reads the snapshots of one run: `first` taken before the load, `loadEnded` the time the load
 * stopped, `snapshots` scraped during and after it, the last after the queue drained (or not).
 */
export function measureApply(
  first: MetricsSnapshot,
  snapshots: MetricsSnapshot[],
  loadEnded: number,
  drained: boolean,
): ApplyMeasurement {
  const last = snapshots.at(-1) ?? first;
  const afterLoad = snapshots.filter((snapshot) => snapshot.at >= loadEnded);
  const drainStart = afterLoad[0];
  const busyEnd = drained ? (afterLoad.find((snapshot) => snapshot.queueUsers === 0) ?? last) : last;
  let drainUsers = 0;
  let drainBusySeconds = 0;
  // A backlog worth measuring: at least a quarter of a second of draining.
  if (drainStart && drainStart.queueUsers > 0 && busyEnd.at - drainStart.at >= 250) {
    drainUsers = busyEnd.appliedUsers - drainStart.appliedUsers;
    drainBusySeconds = (busyEnd.at - drainStart.at) / 1000;
  }
  const unavailable: Record<string, number> = {};
  for (const [reason, count] of Object.entries(last.unavailable)) {
    const delta = count - (first.unavailable[reason] ?? 0);
    if (delta > 0) unavailable[reason] = delta;
  }
  const lagHistogram = [...last.applyLag.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bound, count]): [number, number] => [bound, count - (first.applyLag.get(bound) ?? 0)]);
  return {
    acceptedUsers: last.acceptedUsers - first.acceptedUsers,
    appliedUsers: last.appliedUsers - first.appliedUsers,
    unappliedUsers: last.queueUsers,
    drained,
    lagHistogram,
    drainSeconds: Math.max(0, (busyEnd.at - loadEnded) / 1000),
    drainUsers,
    drainBusySeconds,
    unavailable,
  };
}

export interface ApplySummary {
  acceptedUsers: number;
  appliedUsers: number;
  unappliedUsers: number;
  drained: boolean;
  /** Apply lag, seconds, interpolated within the receiver's histogram buckets (coarse: read as ≈). */
  lagP50Seconds: number;
  lagP99Seconds: number;
  /** The worker's sustained apply rate with a backlog; null when there never was one to measure. */
  drainUsersPerSecond: number | null;
  /** 503s by reason. */
  unavailable: Record<string, number>;
}

/** Adds up the runs of one mode: lag percentiles from the summed histograms, rates weighted by time. */
export function summarizeApply(runs: ApplyMeasurement[]): ApplySummary {
  const lag = new Map<number, number>();
  const unavailable: Record<string, number> = {};
  let drainUsers = 0;
  let drainSeconds = 0;
  for (const run of runs) {
    for (const [bound, count] of run.lagHistogram) lag.set(bound, (lag.get(bound) ?? 0) + count);
    for (const [reason, count] of Object.entries(run.unavailable)) {
      unavailable[reason] = (unavailable[reason] ?? 0) + count;
    }
    drainUsers += run.drainUsers;
    drainSeconds += run.drainBusySeconds;
  }
  const none = new Map<number, number>();
  return {
    acceptedUsers: runs.reduce((sum, run) => sum + run.acceptedUsers, 0),
    appliedUsers: runs.reduce((sum, run) => sum + run.appliedUsers, 0),
    unappliedUsers: runs.at(-1)?.unappliedUsers ?? 0,
    drained: runs.every((run) => run.drained),
    lagP50Seconds: histogramQuantile(none, lag, 0.5),
    lagP99Seconds: histogramQuantile(none, lag, 0.99),
    drainUsersPerSecond: drainSeconds > 0 ? drainUsers / drainSeconds : null,
    unavailable,
  };
}
