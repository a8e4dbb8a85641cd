/**
 * @module The Prometheus series the receiver exports (docs/operations.md#metrics), counted from the
 * core's events on a registry of its own.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { letterKinds } from '../core/dead-letters/dead-letters.ts';
import { unavailableReasons } from '../core/errors.ts';
import type { ReceiverEvents } from '../core/events.ts';
import type { QueueStats } from '../core/queue/queue.ts';

/** Why the server itself, not a route, refused or cut a connection; the label of the metric. */
export const clientErrorReasons = [
  'request_timeout',
  'headers_too_large',
  'bad_request',
  'max_connections',
  'reset',
  'idle_timeout',
  'evicted',
  'discard_limit',
] as const;
export type ClientErrorReason = (typeof clientErrorReasons)[number];

const prefix = 'cohort_receiver_';

export interface MetricsOptions {
  /** The events to count. */
  events: ReceiverEvents;
  queueStats?: () => Promise<QueueStats>;
  /** The sinks' names, so their series exist from the start. */
  sinks?: readonly string[];
  /**
   * Node's process series (`process_resident_memory_bytes`, `nodejs_eventloop_lag_p99_seconds`,
   * heap, GC…), so leaks and a blocked event loop show. Off in tests that make many registries.
   * @default false
   */
  processMetrics?: boolean;
}

/** Creates every series on a fresh registry, so several receivers (tests) never share counters. */
export function createMetrics(options: MetricsOptions) {
  const registry = new Registry();
  const on = { registers: [registry] };
  // The event-loop lag series read a 10 ms-resolution histogram that each scrape resets.
  if (options.processMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const counter = <Label extends string = never>(name: string, help: string, labelNames: Label[] = []) =>
    new Counter<Label>({ name: prefix + name, help, labelNames, ...on });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name: prefix + name, help, buckets, ...on });
  const metrics = {
    registry,
    requests: counter('http_requests_total', 'HTTP requests answered, by route and status', [
      'route',
      'status',
    ]),
    batches: counter(
      'batches_total',
      'Webhook batches by outcome (accepted, duplicate, rejected, unavailable) and reason',
      ['outcome', 'reason'],
    ),
    users: counter('users_total', 'Users in accepted batches, by direction (in = entered, out = left)', [
      'direction',
    ]),
    ackSeconds: histogram(
      'ack_duration_seconds',
      'Time from request start to the webhook answer',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    ),
    applyLagSeconds: histogram(
      'apply_lag_seconds',
      'Time from accepting a batch to its membership being committed to the store',
      [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    ),
    appliedUsers: counter('applied_users_total', 'User updates committed to the store'),
    changes: counter(
      'membership_changes_total',
      'Effective membership changes made by applying batches, by kind (entered, left, updated)',
      ['kind'],
    ),
    applyErrors: counter(
      'apply_errors_total',
      'Failed attempts to apply a batch to the store (each retry counts)',
    ),
    storeUnavailableRetries: counter(
      'store_unavailable_retries_total',
      'Applies that found the store away (unreachable, restarting) and will be tried again; no attempt is spent',
    ),
    storeAvailable: new Gauge({
      name: `${prefix}store_available`,
      help: 'Whether the store answered the last apply (1) or was away (0): while 0, applying waits and batches stay queued',
      ...on,
    }),
    deadLetters: counter(
      'dead_letters_total',
      'Bodies set aside: rejected (quarantined 400/422 bodies), failed (batches that never applied) or sink (changes a sink refused)',
      ['kind'],
    ),
    clientErrors: counter(
      'client_errors_total',
      'Connections refused or cut by the server rather than a route, by reason (request_timeout, headers_too_large, bad_request, max_connections, reset, idle_timeout, evicted, discard_limit)',
      ['reason'],
    ),
    sinkChanges: counter(
      'sink_changes_total',
      'Membership changes handed to a sink, by sink and outcome (delivered, dead_lettered)',
      ['sink', 'outcome'],
    ),
    sinkFailedAttempts: counter(
      'sink_failed_attempts_total',
      'Failed attempts to send a batch of changes to a sink (each retry counts)',
      ['sink'],
    ),
  };
  // Taken as answering until an apply finds it away.
  metrics.storeAvailable.set(1);
  queueGauges(registry, options.queueStats);
  zeroEveryLabel(metrics, options.sinks ?? []);
  countEvents(metrics, options.events);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

function countEvents(metrics: Metrics, events: ReceiverEvents): void {
  events.on('request', ({ route, status }) => metrics.requests.inc({ route, status }));
  events.on('webhook', ({ outcome, reason, inCohort, users, ackMs }) => {
    metrics.batches.inc({ outcome, reason: reason ?? '' });
    if (outcome === 'accepted' || outcome === 'duplicate') metrics.ackSeconds.observe(ackMs / 1000);
    if (outcome === 'accepted') metrics.users.inc({ direction: inCohort ? 'in' : 'out' }, users ?? 0);
  });
  events.on('applied', ({ users, entered, left, updated, lagMs }) => {
    metrics.appliedUsers.inc(users);
    metrics.applyLagSeconds.observe(lagMs / 1000);
    metrics.changes.inc({ kind: 'entered' }, entered);
    metrics.changes.inc({ kind: 'left' }, left);
    metrics.changes.inc({ kind: 'updated' }, updated);
  });
  events.on('applyFailed', () => metrics.applyErrors.inc());
  events.on('storeUnavailable', () => metrics.storeUnavailableRetries.inc());
  events.on('storeAvailability', ({ available }) => metrics.storeAvailable.set(available ? 1 : 0));
  events.on('deadLettered', ({ kind }) => metrics.deadLetters.inc({ kind }));
  events.on('sinkAttemptFailed', ({ sink }) => metrics.sinkFailedAttempts.inc({ sink }));
  events.on('sinkOutcome', ({ sink, delivered, failed }) => {
    if (delivered > 0) metrics.sinkChanges.inc({ sink, outcome: 'delivered' }, delivered);
    if (failed > 0) metrics.sinkChanges.inc({ sink, outcome: 'dead_lettered' }, failed);
  });
}

/** The queue's depth, users and oldest batch, read with one stats() call per scrape. */
function queueGauges(registry: Registry, queueStats: (() => Promise<QueueStats>) | undefined): void {
  if (!queueStats) return;
  let pending: Promise<QueueStats | undefined> | undefined;
  const read = () => {
    pending ??= queueStats()
      .catch(() => undefined)
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const gauge = (name: string, help: string, pick: (stats: QueueStats) => number) =>
    new Gauge({
      name: prefix + name,
      help,
      registers: [registry],
      async collect() {
        const stats = await read();
        if (stats) this.set(pick(stats));
      },
    });
  gauge('queue_batches', 'Batches waiting or being applied', (stats) => stats.batches);
  gauge('queue_users', 'Users in batches waiting or being applied', (stats) => stats.users);
  gauge(
    'queue_fullness',
    "Share of the queue's bound in use (QUEUE_MAX_USERS, QUEUE_MAX_BYTES or QUEUE_MIN_FREE_BYTES): at 1 new batches get 503",
    (stats) => stats.fullness,
  );
  gauge(
    'queue_oldest_age_seconds',
    'Age of the oldest batch still waiting',
    (stats) => stats.oldestAgeSeconds,
  );
}

/**
 * Starts every labelled counter at 0 for each label value it can take: a series that appears only
 * with its first event hides that event from `rate()` and `increase()`, so the alerts in
 * ops/alerts.yml would miss the first dead letter or 503 (and all of them, after a restart).
 */
function zeroEveryLabel(metrics: Metrics, sinks: readonly string[]): void {
  for (const outcome of ['accepted', 'duplicate'] as const) metrics.batches.inc({ outcome, reason: '' }, 0);
  for (const reason of ['invalid_json', 'invalid_payload', 'payload_too_large']) {
    metrics.batches.inc({ outcome: 'rejected', reason }, 0);
  }
  for (const reason of unavailableReasons) metrics.batches.inc({ outcome: 'unavailable', reason }, 0);
  for (const direction of ['in', 'out']) metrics.users.inc({ direction }, 0);
  for (const kind of ['entered', 'left', 'updated']) metrics.changes.inc({ kind }, 0);
  for (const kind of letterKinds) metrics.deadLetters.inc({ kind }, 0);
  for (const reason of clientErrorReasons) metrics.clientErrors.inc({ reason }, 0);
  for (const sink of sinks) {
    for (const outcome of ['delivered', 'dead_lettered']) metrics.sinkChanges.inc({ sink, outcome }, 0);
    metrics.sinkFailedAttempts.inc({ sink }, 0);
  }
}
