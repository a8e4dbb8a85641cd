import { describe, expect, it } from 'vitest';
import { histogramQuantile, measureApply, parsePrometheusText, toSnapshot } from '../../bench/apply-watch.ts';
import { renderLatencyChart } from '../../bench/chart.ts';
import { latencySpectrum, percentile, summarizeLatency } from '../../bench/latency.ts';
import type { Measurement } from '../../bench/measurement.ts';
import {
  type BenchResult,
  formatCount,
  formatReport,
  type RunRecord,
  summarizeMode,
  summarizeServer,
} from '../../bench/report.ts';
import { judge } from '../../bench/verdict.ts';

/** A run of `count` answers, latencies 1..count ms scaled by `scale`. */
function measurement(overrides: Partial<Measurement> & { count: number; scale?: number }): Measurement {
  const { count, scale = 1, ...rest } = overrides;
  const latencies = Float64Array.from({ length: count }, (_, i) => (i + 1) * scale);
  return {
    seconds: 2,
    responses: count,
    statusCodes: { 200: count },
    ok: count,
    non2xx: 0,
    timeouts: 0,
    errors: 0,
    okUsers: count * 1000,
    okBytes: count * 90_000,
    latencies,
    ...rest,
  };
}

function run(server: 'target' | 'baseline', round: number, m: Measurement): RunRecord {
  return { mode: 'saturate', round, server, measurement: m };
}

describe('latency summaries', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(summarizeLatency(sorted)).toMatchObject({
      count: 1000,
      p50: 500,
      p90: 900,
      p99: 990,
      p999: 999,
      max: 1000,
    });
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('spaces the spectrum evenly in decades of 1 / (1 - q) and ends on the max', () => {
    const spectrum = latencySpectrum(
      Float64Array.from({ length: 1000 }, (_, i) => i + 1),
      1,
    );
    expect(spectrum.map((point) => point.quantile)).toEqual([0, 0.9, 0.99, 0.999, 1]);
    expect(spectrum.at(-1)?.ms).toBe(1000);
  });
});

describe('report', () => {
  it('pools runs per server: rates over the summed time, percentiles over every sample', () => {
    const summary = summarizeServer([measurement({ count: 100 }), measurement({ count: 300, scale: 2 })]);
    expect(summary.requestsPerSecond).toBe(100);
    expect(summary.usersPerSecond).toBe(100_000);
    expect(summary.bytesPerSecond).toBe(9_000_000);
    expect(summary.latency.count).toBe(400);
    expect(summary.latency.max).toBe(600);
    expect(summary.statusCodes).toEqual({ 200: 400 });
  });

  it('counts a fast 503 as a non-2xx, never as throughput', () => {
    const summary = summarizeServer([
      measurement({ count: 10, ok: 6, non2xx: 4, okUsers: 6000, statusCodes: { 200: 6, 503: 4 } }),
    ]);
    expect(summary.requestsPerSecond).toBe(3);
    expect(summary.non2xx).toBe(4);
  });

  it('reports the target as ratios of the baseline, pooled and per round', () => {
    const runs = [
      run('target', 1, measurement({ count: 90, scale: 2 })),
      run('baseline', 1, measurement({ count: 100 })),
      run('target', 2, measurement({ count: 80, scale: 2 })),
      run('baseline', 2, measurement({ count: 100 })),
    ];
    const mode = summarizeMode('saturate', null, runs);
    expect(mode.ratios?.requestsPerSecond).toBeCloseTo(0.85);
    expect(mode.ratios?.rounds.map((round) => round.requestsPerSecond)).toEqual([0.9, 0.8]);
    expect(mode.ratios?.p99).toBeCloseTo(mode.target.latency.p99 / (mode.baseline?.latency.p99 ?? 1));
    expect(mode.apply).toBeNull();
  });

  it('formats counts compactly', () => {
    expect([12, 1234, 12_345, 1_234_567].map(formatCount)).toEqual(['12', '1,234', '12.3k', '1.23M']);
  });

  it('prints a report with both servers, the ratio line and the verdict, and a chart of both', () => {
    const runs = [
      run('target', 1, measurement({ count: 50, scale: 2 })),
      run('baseline', 1, measurement({ count: 60 })),
    ];
    const mode = summarizeMode('saturate', null, runs);
    const result = syntheticResult([mode]);
    const text = formatReport(result);
    expect(text).toMatch(/^target +25 /m);
    expect(text).toMatch(/^baseline +30 /m);
    expect(text).toMatch(/^ratio +0\.83 /m);
    expect(text).toContain('verdict: PASS (saturated)');
    const svg = renderLatencyChart(result);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).not.toContain('NaN');
  });
});

describe('apply figures from /metrics', () => {
  const exposition = (applied: number, queued: number, lag: [string, number][]) =>
    [
      '# HELP cohort_receiver_applied_users_total x',
      `cohort_receiver_applied_users_total ${applied}`,
      `cohort_receiver_queue_users ${queued}`,
      `cohort_receiver_users_total{direction="in"} ${applied + queued}`,
      'cohort_receiver_batches_total{outcome="unavailable",reason="queue_full"} 2',
      '',
      ...lag.map(([le, count]) => `cohort_receiver_apply_lag_seconds_bucket{le="${le}"} ${count}`),
    ].join('\n');

  it('reads Prometheus text and interpolates quantiles within buckets', () => {
    const snapshot = toSnapshot(
      parsePrometheusText(
        exposition(10, 5, [
          ['0.1', 50],
          ['1', 100],
          ['+Inf', 100],
        ]),
      ),
      0,
    );
    expect(snapshot.appliedUsers).toBe(10);
    expect(snapshot.queueUsers).toBe(5);
    expect(snapshot.acceptedUsers).toBe(15);
    expect(snapshot.unavailable).toEqual({ queue_full: 2 });
    expect(histogramQuantile(new Map(), snapshot.applyLag, 0.5)).toBeCloseTo(0.1);
    expect(histogramQuantile(new Map(), snapshot.applyLag, 0.75)).toBeCloseTo(0.55);
    expect(histogramQuantile(new Map(), new Map(), 0.5)).toBeNaN();
  });

  it('times the drain after the load as the sustained apply rate', () => {
    const at = (ms: number, applied: number, queued: number) =>
      toSnapshot(
        parsePrometheusText(
          exposition(applied, queued, [
            ['1', applied / 1000],
            ['+Inf', applied / 1000],
          ]),
        ),
        ms,
      );
    const before = at(0, 0, 0);
    const snapshots = [
      at(500, 100_000, 900_000),
      at(1000, 200_000, 800_000),
      at(3000, 600_000, 400_000),
      at(5000, 1_000_000, 0),
    ];
    const apply = measureApply(before, snapshots, 1000, true);
    expect(apply.appliedUsers).toBe(1_000_000);
    expect(apply.acceptedUsers).toBe(1_000_000);
    expect(apply.drainUsers / apply.drainBusySeconds).toBe(200_000);
    expect(apply.drainSeconds).toBe(4);
    expect(apply.drained).toBe(true);
  });
});

function syntheticResult(modes: BenchResult['modes']): BenchResult {
  const target = modes[0]?.target;
  if (!target) throw new Error('a mode is needed');
  return {
    schema: 'cohort-receiver-bench/1',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    command: 'npm run bench',
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 4,
      node: 'v20.0.0',
      platform: 'linux-x64',
      loadAverage: 0.1,
    },
    target: {
      kind: 'built-in',
      url: 'http://127.0.0.1:1/webhook',
      headerNames: [],
      env: { QUEUE: 'memory' },
      pinnedCpu: 0,
    },
    traffic: {
      shape: 'default',
      usersPerBody: 1000,
      properties: 3,
      removeRatio: 0.2,
      cohorts: 4,
      duplicateRate: 0,
      meanBodyBytes: 90_000,
      templates: 10,
      distinctUsers: 10_000,
      seed: 1,
    },
    load: { connections: 4, rounds: 1, seconds: 2, requests: null, warmupSeconds: 1, timeoutMs: 2000 },
    generator: { bodies: 110, microsecondsPerBody: 8, shareOfRunTime: 0.01 },
    modes,
    bareApply: null,
    verdict: judge(target, 'saturated', { p99Ms: 1000, timeoutMs: 2000 }),
    budget: { p99Ms: 1000, timeoutMs: 2000 },
    notes: [],
  };
}
