/**
 * @module Ack percentiles from the `ack_ms_le_<bound>` counters: each counts the acks of a minute
 * that took at most <bound> ms (cumulative, as Prometheus' `le`), so minutes sum bucket by bucket
 * and a percentile is the smallest bound that covers its share of the acks.
 */
import { ackBucketsMs, type CounterName, type MinutePoint } from './series.ts';

/** The bucket series' names, smallest bound first: what to read() for a percentile. */
export const ackBucketNames: readonly CounterName[] = ackBucketsMs.map(
  (bound) => `ack_ms_le_${bound}` as const,
);

/**
 * The counters one ack adds to: every bucket whose bound it is within, and the last one whatever
 * it took (the last bucket counts every ack of the minute).
 */
export function ackBuckets(ackMs: number): Partial<Record<CounterName, number>> {
  const counts: Partial<Record<CounterName, number>> = {};
  ackBucketsMs.forEach((bound, index) => {
    if (ackMs <= bound || index === ackBucketsMs.length - 1) counts[`ack_ms_le_${bound}`] = 1;
  });
  return counts;
}

/** The bucket counters of several minutes, summed (a missing bucket adds nothing). */
export function sumAckBuckets(points: readonly MinutePoint[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const point of points) {
    for (const name of ackBucketNames) {
      const value = point.values[name];
      if (value !== undefined) sums[name] = (sums[name] ?? 0) + value;
    }
  }
  return sums;
}

/**
 * The `quantile` (0..1) of the acks these bucket counters count, as the upper bound of the bucket
 * it falls in; undefined when they count no ack. Acks slower than the last bound read as it.
 */
export function ackPercentile(
  values: Readonly<Record<string, number>>,
  quantile: number,
): number | undefined {
  const cumulative = ackBucketNames.map((name) => values[name] ?? 0);
  // Each bucket holds at least the ones below it; the largest is every ack counted.
  const total = Math.max(0, ...cumulative);
  if (total <= 0) return undefined;
  const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, quantile)) * total));
  const index = cumulative.findIndex((count) => count >= rank);
  return ackBucketsMs[index === -1 ? ackBucketsMs.length - 1 : index];
}

/** p50 and p99 of one minute, or of several minutes summed. */
export function ackPercentiles(points: MinutePoint | readonly MinutePoint[]): {
  p50: number | undefined;
  p99: number | undefined;
} {
  const values = Array.isArray(points) ? sumAckBuckets(points) : (points as MinutePoint).values;
  return { p50: ackPercentile(values, 0.5), p99: ackPercentile(values, 0.99) };
}
