/** @module The Prometheus series the receiver exports (docs/operations.md#metrics), on a registry of its own. */
import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type LabelValues,
  Registry,
} from 'prom-client';
import { letterKinds } from '../core/dead-letters/dead-letters.ts';
import type { UnavailableError } from '../core/errors.ts';
import { rejectionReasons } from '../core/payload/decode-body.ts';
import type { QueueStats } from '../core/queue/queue.ts';
import type { MembershipChange } from '../core/store/store.ts';

/** Why a connection was refused or cut before a route answered; the label of the metric. */
export const clientErrorReasons = [
  'request_timeout',
  'headers_too_large',
  'bad_request',
  'max_connections',
  'reset',
] as const;
export type ClientErrorReason = (typeof clientErrorReasons)[number];

const prefix = 'cohort_receiver_';

export interface MetricsOptions {
  queueStats?: () => Promise<QueueStats>;
  /** QUEUE_MAX_USERS, exported so an alert can divide the queue's depth by its bound. */
  queueMaxUsers?: number;
  /** How often the apply thread stopped unasked, when there is one (read at each scrape). */
  applyThreadStops?: (() => number) | undefined;
  /**
   * Node's process series (`process_resident_memory_bytes`, `nodejs_eventloop_lag_p99_seconds`,
   * heap, GC…), so leaks and a blocked event loop show. Off in tests that make many registries.
   * @default false
   */
  processMetrics?: boolean;
}

/** Creates every series on a fresh registry, so several receivers (tests) never share counters. */
export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  const on = { registers: [registry] };
  // The event-loop lag series read a 10 ms-resolution histogram that each scrape resets.
  if (options.processMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  if (options.queueMaxUsers !== undefined) {
    new Gauge({
      name: `${prefix}queue_max_users`,
      help: 'QUEUE_MAX_USERS: users the queue holds before new batches get 503',
      ...on,
    }).set(options.queueMaxUsers);
  }
  const { applyThreadStops } = options;
  if (applyThreadStops) {
    new Counter({
      name: `${prefix}apply_thread_stops_total`,
      help: 'Times the apply thread stopped unasked (a crash, an out-of-memory kill); the next apply starts a new one',
      ...on,
      collect() {
        this.reset();
        this.inc(applyThreadStops());
      },
    });
  }
  const queueStats = options.queueStats;
  // One stats() call serves the three queue gauges of a scrape.
  let pending: Promise<QueueStats> | undefined;
  const readQueue = async (): Promise<QueueStats | undefined> => {
    if (!queueStats) return undefined;
    pending ??= queueStats().finally(() => {
      pending = undefined;
    });
    return pending.catch(() => undefined);
  };
  const queueGauge = (name: string, help: string, pick: (stats: QueueStats) => number) =>
    new Gauge({
      name: prefix + name,
      help,
      ...on,
      async collect() {
        const stats = await readQueue();
        if (stats) this.set(pick(stats));
      },
    });

  const metrics = {
    registry,
    requests: new CellCounter({
      name: `${prefix}http_requests_total`,
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'] as const,
      ...on,
    }),
    batches: new CellCounter({
      name: `${prefix}batches_total`,
      help: 'Webhook batches by outcome (accepted, duplicate, rejected, unavailable) and reason',
      labelNames: ['outcome', 'reason'] as const,
      ...on,
    }),
    users: new CellCounter({
      name: `${prefix}users_total`,
      help: 'Users in accepted batches, by direction (in = entered, out = left)',
      labelNames: ['direction'] as const,
      ...on,
    }),
    ackSeconds: new Histogram({
      name: `${prefix}ack_duration_seconds`,
      help: 'Time from request start to the webhook answer',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      ...on,
    }),
    applyLagSeconds: new Histogram({
      name: `${prefix}apply_lag_seconds`,
      help: 'Time from accepting a batch to its membership being committed to the store',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      ...on,
    }),
    appliedUsers: new Counter({
      name: `${prefix}applied_users_total`,
      help: 'User updates committed to the store',
      ...on,
    }),
    changes: new CellCounter({
      name: `${prefix}membership_changes_total`,
      help: 'Effective membership changes made by applying batches, by kind (entered, left, updated)',
      labelNames: ['kind'] as const,
      ...on,
    }),
    applyErrors: new Counter({
      name: `${prefix}apply_errors_total`,
      help: 'Failed attempts to apply a batch to the store (each retry counts)',
      ...on,
    }),
    deadLetters: new CellCounter({
      name: `${prefix}dead_letters_total`,
      help: 'Bodies set aside: rejected (quarantined 400/422 bodies), failed (batches that never applied) or sink (changes a sink refused)',
      labelNames: ['kind'] as const,
      ...on,
    }),
    queueBatches: queueGauge('queue_batches', 'Batches waiting or being applied', (stats) => stats.batches),
    queueUsers: queueGauge(
      'queue_users',
      'Users in batches waiting or being applied',
      (stats) => stats.users,
    ),
    clientErrors: new CellCounter({
      name: `${prefix}client_errors_total`,
      help: 'Connections refused or cut before a route answered, by reason (request_timeout, headers_too_large, bad_request, max_connections, reset)',
      labelNames: ['reason'] as const,
      ...on,
    }),
    queueOldestAge: queueGauge(
      'queue_oldest_age_seconds',
      'Age of the oldest batch still waiting',
      (stats) => stats.oldestAgeSeconds,
    ),
  };
  zeroEveryLabel(metrics);
  return metrics;
}

/**
 * A labelled Counter whose `inc` adds to a plain cell found through one Map per label, instead of
 * prom-client's per-call label hashing and validation: the webhook counts three series a request.
 * Cells are folded into the counter whenever it is read (`collect` runs on every scrape and `get`).
 */
class CellCounter<T extends string> extends Counter<T> {
  readonly #names: readonly T[];
  readonly #root = new Map<unknown, unknown>();
  readonly #pending: { labels: LabelValues<T>; value: number }[] = [];
  /** prom-client's own `inc`, an instance property it sets in its constructor. */
  readonly #slowInc: (labels: LabelValues<T>, value?: number) => void;

  constructor(configuration: CounterConfiguration<T> & { labelNames: readonly T[] }) {
    super({
      ...configuration,
      collect() {
        (this as CellCounter<T>).#flush();
      },
    });
    this.#names = configuration.labelNames;
    const slowInc = this.inc.bind(this) as (labels: LabelValues<T>, value?: number) => void;
    this.#slowInc = slowInc;
    this.inc = ((labels?: LabelValues<T> | number, value?: number) => {
      // Anything unusual (no labels, a bad value) takes prom-client's path, and its errors.
      if (
        typeof labels !== 'object' ||
        !(value === undefined || (value >= 0 && value < Infinity)) ||
        !this.#knowsEvery(labels)
      ) {
        slowInc(labels as LabelValues<T>, value);
        return;
      }
      this.#cell(labels).value += value ?? 1;
    }) as Counter<T>['inc'];
  }

  /** False when `labels` names a label this counter does not have (prom-client then throws). */
  #knowsEvery(labels: LabelValues<T>): boolean {
    for (const name in labels) if (!this.#names.includes(name as T)) return false;
    return true;
  }

  /** The cell of one label set; made (and its labels checked by prom-client) on first use. */
  #cell(labels: LabelValues<T>) {
    let node = this.#root;
    const last = this.#names.length - 1;
    for (let index = 0; index < last; index++) {
      const value = labels[this.#names[index] as T];
      let next = node.get(value) as Map<unknown, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const key = labels[this.#names[last] as T];
    let cell = node.get(key) as { labels: LabelValues<T>; value: number } | undefined;
    if (cell === undefined) {
      this.#slowInc(labels, 0);
      cell = { labels: { ...labels }, value: 0 };
      node.set(key, cell);
      this.#pending.push(cell);
    }
    return cell;
  }

  #flush() {
    for (const cell of this.#pending) {
      if (cell.value === 0) continue;
      this.#slowInc(cell.labels, cell.value);
      cell.value = 0;
    }
  }

  override reset() {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#pending in this) for (const cell of this.#pending) cell.value = 0;
    super.reset();
  }
}

// Exhaustive by type: a reason added to UnavailableError or a change kind fails to compile here.
const unavailableReasons = Object.keys({
  queue_full: 0,
  backend_unavailable: 0,
  shutting_down: 0,
} satisfies Record<UnavailableError['reason'], 0>);
const changeKinds = Object.keys({ entered: 0, left: 0, updated: 0 } satisfies Record<
  MembershipChange['kind'],
  0
>);

/**
 * Starts every labelled counter at 0 for each label value it can take: a series that appears only
 * with its first event hides that event from `rate()` and `increase()`, so the alerts in
 * ops/alerts.yml would miss the first dead letter or 503 (and all of them, after a restart).
 */
function zeroEveryLabel(metrics: Omit<Metrics, 'registry'>): void {
  for (const outcome of ['accepted', 'duplicate'] as const) metrics.batches.inc({ outcome, reason: '' }, 0);
  for (const reason of rejectionReasons) metrics.batches.inc({ outcome: 'rejected', reason }, 0);
  for (const reason of unavailableReasons) metrics.batches.inc({ outcome: 'unavailable', reason }, 0);
  for (const direction of ['in', 'out']) metrics.users.inc({ direction }, 0);
  for (const kind of changeKinds) metrics.changes.inc({ kind }, 0);
  for (const kind of letterKinds) metrics.deadLetters.inc({ kind }, 0);
  for (const reason of clientErrorReasons) metrics.clientErrors.inc({ reason }, 0);
}

export type Metrics = ReturnType<typeof createMetrics>;
