/** @module Latency samples: every response's time is kept (no histogram rounding), then summarised. */

/** A growable list of latencies in milliseconds. */
export class LatencyRecorder {
  private values = new Float64Array(4096);
  private size = 0;

  get count() {
    return this.size;
  }

  record(milliseconds: number) {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = milliseconds;
  }

  /** A sorted copy of the samples. */
  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort();
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The nearest-rank percentile of sorted samples; `quantile` in [0, 1]. NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, quantile: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(quantile * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarizeLatency(sorted: ArrayLike<number>): LatencySummary {
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i] as number;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: percentile(sorted, 1),
  };
}

/** One point of a latency distribution: the latency at or under which `quantile` of requests finished. */
export interface SpectrumPoint {
  quantile: number;
  ms: number;
}

/**
 * The percentile spectrum HdrHistogram plots: quantiles spaced evenly on a log scale of
 * 1 / (1 - q), so the tail (99%, 99.9%, …) gets as much room as the median. Stops where the
 * samples run out of resolution, then adds the max.
 */
export function latencySpectrum(sorted: ArrayLike<number>, pointsPerDecade = 10): SpectrumPoint[] {
  if (sorted.length === 0) return [];
  const points: SpectrumPoint[] = [];
  const decades = Math.log10(sorted.length);
  for (let step = 0; step <= decades * pointsPerDecade; step++) {
    const quantile = 1 - 10 ** (-step / pointsPerDecade);
    points.push({ quantile, ms: percentile(sorted, quantile) });
  }
  points.push({ quantile: 1, ms: percentile(sorted, 1) });
  return points;
}

/** Merges several sorted sample arrays into one sorted array. */
export function mergeSorted(parts: Float64Array[]): Float64Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const merged = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    merged.set(part, offset);
    offset += part.length;
  }
  return merged.sort();
}
