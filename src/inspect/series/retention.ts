/** @module How long the series are kept, and which minutes that leaves, the same for every home. */
import { type Minute, minuteMs, minuteOf } from './series.ts';

/** 7 days of minutes (INSPECT_SERIES_DAYS's default). */
export const defaultRetentionMinutes = 7 * 24 * 60;

export function checkRetention(retentionMinutes: number): number {
  if (!Number.isSafeInteger(retentionMinutes) || retentionMinutes < 1) {
    throw new RangeError(
      `Expected \`retentionMinutes\` to be a positive integer, got \`${retentionMinutes}\``,
    );
  }
  return retentionMinutes;
}

/**
 * The oldest minute still kept at `now`: the current minute and the `retentionMinutes - 1` before
 * it. Redis expires minute m at m + retention, which drops it at the same moment.
 */
export function oldestKept(now: number, retentionMinutes: number): Minute {
  return minuteOf(now) - (retentionMinutes - 1) * minuteMs;
}
