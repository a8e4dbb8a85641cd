/** Ack p50 / p99 from the cumulative `ack_ms_le_<bound>` counters of a minute or of several. */
import { describe, expect, it } from 'vitest';
import {
  ackBucketNames,
  ackBuckets,
  ackPercentile,
  ackPercentiles,
  sumAckBuckets,
} from '../../../src/inspect/series/percentile.ts';
import { ackBucketsMs, type MinutePoint } from '../../../src/inspect/series/series.ts';

/** The counters a list of acks adds up to, as the recorder adds them. */
function bucketsOf(acksMs: readonly number[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (const ackMs of acksMs) {
    for (const [name, count] of Object.entries(ackBuckets(ackMs)))
      values[name] = (values[name] ?? 0) + (count ?? 0);
  }
  return values;
}

describe('ack buckets', () => {
  it('counts an ack in every bucket it is within, and every ack in the last', () => {
    expect(Object.keys(ackBuckets(3))).toEqual(ackBucketNames);
    expect(Object.keys(ackBuckets(5))).toEqual(ackBucketNames);
    expect(Object.keys(ackBuckets(5.1))).toEqual(ackBucketNames.slice(1));
    expect(Object.keys(ackBuckets(1500))).toEqual(['ack_ms_le_2000', 'ack_ms_le_5000', 'ack_ms_le_30000']);
    expect(ackBuckets(45_000)).toEqual({ ack_ms_le_30000: 1 });
    expect(ackBucketNames).toEqual(ackBucketsMs.map((bound) => `ack_ms_le_${bound}`));
  });
});

describe('ack percentiles', () => {
  it('reads the upper bound of the bucket the percentile falls in', () => {
    const values = bucketsOf([...Array.from({ length: 98 }, () => 3), 200, 40_000]);
    expect(ackPercentile(values, 0.5)).toBe(5);
    expect(ackPercentile(values, 0.98)).toBe(5);
    expect(ackPercentile(values, 0.99)).toBe(250);
    // Slower than the last bound reads as the last bound.
    expect(ackPercentile(values, 1)).toBe(30_000);
    expect(ackPercentiles({ minute: 0, values })).toEqual({ p50: 5, p99: 250 });
  });

  it('has none for a minute without acks', () => {
    expect(ackPercentile({}, 0.5)).toBeUndefined();
    expect(ackPercentile({ received: 4 }, 0.99)).toBeUndefined();
    expect(ackPercentiles([])).toEqual({ p50: undefined, p99: undefined });
  });

  it('sums several minutes bucket by bucket, a missing bucket adding nothing', () => {
    const fast: MinutePoint = { minute: 0, values: bucketsOf([1, 2, 3, 4]) };
    const slow: MinutePoint = { minute: 60_000, values: bucketsOf([900, 1800, 1900, 4000]) };
    // A minute without acks (another series only) is neither an ack nor a gap in the sum.
    const quiet: MinutePoint = { minute: 120_000, values: { received: 0 } };
    expect(slow.values.ack_ms_le_5).toBeUndefined();
    const sums = sumAckBuckets([fast, quiet, slow]);
    expect(sums.ack_ms_le_5).toBe(4);
    expect(sums.ack_ms_le_1000).toBe(5);
    expect(sums.ack_ms_le_30000).toBe(8);
    expect(ackPercentiles([fast, quiet, slow])).toEqual({ p50: 5, p99: 5000 });
    expect(ackPercentile(sums, 0.75)).toBe(2000);
  });
});
