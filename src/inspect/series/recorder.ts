/**
 * @module Turns the core's events into per-minute series, and samples the gauges every 10 s: what
 * the charts draw. Listeners only add to the store's buffer (the core runs them where the event
 * happens, on the ack path too); sampling is a timer that never holds the process open.
 */
import type { Logger } from 'pino';
import type { BatchApplied, ReceiverEvents, SinkOutcome, WebhookAnswered } from '../../core/events.ts';
import type { Queue } from '../../core/queue/queue.ts';
import type { SinkControl } from '../../core/sinks/control.ts';
import type { MembershipStore } from '../../core/store/store.ts';
import { throttledWarning } from '../../runtime/logger.ts';
import { ackBuckets } from './percentile.ts';
import { type CounterName, type GaugeName, minuteOf, type SeriesStore } from './series.ts';

export const defaultSampleIntervalMs = 10_000;

export interface SeriesRecorderOptions {
  events: ReceiverEvents;
  series: SeriesStore;
  queue: Pick<Queue, 'stats'>;
  /** Read at each sample: the sink-control extension may attach after the recorder starts. */
  sinkControl?: () => SinkControl | undefined;
  /** Absent in a ROLE=receiver process: no members are sampled there. */
  store?: MembershipStore | undefined;
  logger: Logger;
  /** @default 10,000 */
  sampleIntervalMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface SeriesRecorder {
  /** Samples the gauges now (the timer calls it; tests too). Never rejects. */
  sample(): Promise<void>;
  /** Stops listening and sampling; the store stays open (its owner closes it). */
  close(): void;
}

const outcomes = ['accepted', 'duplicate', 'rejected', 'unavailable'] as const;

export function startSeriesRecorder(options: SeriesRecorderOptions): SeriesRecorder {
  const { events, series } = options;
  const now = options.now ?? Date.now;
  const warn = throttledWarning(
    options.logger,
    'sampling the inspector time series failed; some minutes miss a gauge',
    60_000,
  );

  const onWebhook = ({ outcome, ackMs }: WebhookAnswered) => {
    // The other outcomes as 0: a minute with traffic says "none rejected" rather than leaving a gap.
    const counts: Partial<Record<CounterName, number>> = { received: 1, ...ackBuckets(ackMs) };
    for (const other of outcomes) counts[other] = other === outcome ? 1 : 0;
    series.add(minuteOf(now()), counts);
  };

  const onApplied = ({ cohortId, users, entered, left, updated, lagMs }: BatchApplied) => {
    const minute = minuteOf(now());
    series.add(minute, {
      applied_users: users,
      applied_batches: 1,
      entered,
      left,
      updated,
      apply_lag_ms_sum: lagMs,
      [`cohort:${cohortId}:entered`]: entered,
      [`cohort:${cohortId}:left`]: left,
    });
    series.raise(minute, { apply_lag_ms_max: lagMs });
  };

  const onSinkOutcome = ({ sink, delivered, failed }: SinkOutcome) => {
    series.add(minuteOf(now()), { [`sink:${sink}:delivered`]: delivered, [`sink:${sink}:failed`]: failed });
  };

  events.on('webhook', onWebhook);
  events.on('applied', onApplied);
  events.on('sinkOutcome', onSinkOutcome);

  /** One source's gauges; a failing source costs only its own (and a throttled warning). */
  async function sampleOne(source: string, read: () => Promise<Partial<Record<GaugeName, number>>>) {
    try {
      const gauges = await read();
      series.raise(minuteOf(now()), gauges);
    } catch (error) {
      warn({ source, error: (error as Error).message });
    }
  }

  let sampling: Promise<void> | undefined;
  function sample(): Promise<void> {
    // A slow backend must not pile samples up behind it.
    sampling ??= Promise.all([
      sampleOne('queue', async () => {
        const stats = await options.queue.stats();
        return {
          backlog_batches: stats.batches,
          backlog_users: stats.users,
          oldest_waiting_ms: stats.oldestAgeSeconds * 1000,
        };
      }),
      sampleOne('sinks', async () => {
        const control = options.sinkControl?.();
        if (control === undefined) return {};
        const { sinks } = await control.status();
        return Object.fromEntries(
          sinks.map((sink) => [`sink:${sink.name}:waiting`, sink.waiting + sink.held]),
        );
      }),
      sampleOne('cohorts', async () => {
        const store = options.store;
        if (store === undefined) return {};
        const cohorts = await store.listCohorts();
        return Object.fromEntries(
          cohorts.map((cohort) => [`cohort:${cohort.cohortId}:members`, cohort.members]),
        );
      }),
    ]).then(() => {
      sampling = undefined;
    });
    return sampling;
  }

  const timer = setInterval(() => void sample(), options.sampleIntervalMs ?? defaultSampleIntervalMs);
  // Sampling must not keep a finished process alive.
  timer.unref();
  // The first sample once every extension has attached (sink control may come after the inspector).
  const first = setTimeout(() => void sample(), 0);
  first.unref();

  return {
    sample,
    close() {
      clearInterval(timer);
      clearTimeout(first);
      events.off('webhook', onWebhook);
      events.off('applied', onApplied);
      events.off('sinkOutcome', onSinkOutcome);
    },
  };
}
