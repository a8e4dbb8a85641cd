/**
 * @module The SeriesStore port: per-minute time series the inspector keeps beside its delivery log
 * (process memory, the SQLite inbox file, or Redis, so that every process of a deployment adds to
 * the same minutes), bounded to `retentionMinutes`. What the charts read.
 */

/** Epoch ms at the start of a UTC minute. */
export type Minute = number;

export const minuteMs = 60_000;
export const minuteOf = (epochMs: number): Minute => Math.floor(epochMs / minuteMs) * minuteMs;

/**
 * Series names. Counters are summed over the processes and the minute; gauges keep the largest
 * value any process set in the minute (backlog, ages, members: the worst is what a person needs).
 * `ack_ms_le_<bound>`: how many acks in the minute took at most <bound> ms (fixed buckets, see
 * `ackBucketsMs`), from which p50 / p99 are read.
 */
export type CounterName =
  | 'received'
  | 'accepted'
  | 'duplicate'
  | 'rejected'
  | 'unavailable'
  | 'applied_users'
  | 'entered'
  | 'left'
  | 'updated'
  | 'apply_lag_ms_sum'
  | 'applied_batches'
  | `ack_ms_le_${number}`
  | `sink:${string}:delivered`
  | `sink:${string}:failed`
  | `cohort:${string}:entered`
  | `cohort:${string}:left`;

export type GaugeName =
  | 'backlog_batches'
  | 'backlog_users'
  | 'oldest_waiting_ms'
  | 'apply_lag_ms_max'
  | `sink:${string}:waiting`
  | `cohort:${string}:members`;

/** Bucket bounds (ms) of the ack histogram; the last catches everything slower. */
export const ackBucketsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 30_000] as const;

export interface MinutePoint {
  minute: Minute;
  /** The series that have a value in that minute; a missing name means no data (a gap), not 0. */
  values: Record<string, number>;
}

export interface SeriesStore {
  /** Adds to counters of `minute` (buffered; written within a second or two). */
  add(minute: Minute, counts: Partial<Record<CounterName, number>>): void;
  /** Raises gauges of `minute` to at least these values (buffered likewise). */
  raise(minute: Minute, gauges: Partial<Record<GaugeName, number>>): void;
  /** The minutes in [from, to) that have any value among `names`, oldest first. */
  read(names: readonly string[], from: Minute, to: Minute): Promise<MinutePoint[]>;
  /** Writes what is buffered now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
