/**
 * @module The DeliveryLog port: what the receiver saw and answered, and what a worker then did with
 * each accepted batch, kept (bounded) for the inspector page. Recording is fire-and-forget and
 * batched so it stays off the ack path's critical work (docs/inspect.md).
 *
 * One row per answered request: a duplicate gets its own row (outcome `duplicate`, so the live tail
 * and the `duplicate` filter show each retry Amplitude sent) and also increments `duplicates` on the
 * row that accepted that message_id. `get(messageId)` returns that accepting row.
 */

export type DeliveryOutcome = 'accepted' | 'duplicate' | 'rejected' | 'unavailable';

/** Every outcome, in the order the page lists them. */
export const deliveryOutcomes: readonly DeliveryOutcome[] = [
  'accepted',
  'duplicate',
  'rejected',
  'unavailable',
];

/** What the receiver saw and answered, written after the answer is decided. */
export interface DeliveryReceipt {
  /** Null when the body had none (invalid JSON, a template that left it out). */
  messageId: string | null;
  /** Epoch ms. */
  receivedAt: number;
  /** Milliseconds from the start of the request to the decided answer. */
  ackMs: number;
  /**
   * `rejected`: 400/413/422. Not recorded: 401s (no trusted body), bodies cut off by the client
   * (nobody reads that answer) and 500s (logged whole instead).
   */
  outcome: DeliveryOutcome;
  /** The HTTP status answered. */
  status: number;
  /** The rejection or 503 reason (the `reason` label of the metric). */
  reason?: string;
  cohortId?: string;
  cohortName?: string;
  /** true: users entered the cohort; false: they left it. */
  inCohort?: boolean;
  users?: number;
  /**
   * The batch's first user ids, in its order (at most `maxEventUserIds`, `maxEventUserIdChars`): what a delivery page lists.
   * Absent from rows recorded before it was kept, and when the body could not be read.
   */
  userIds?: string[];
  /** Epoch seconds, as Amplitude sent it. */
  computedTime?: number;
  /** The dead letter holding a rejected body, when it was kept. */
  quarantineId?: string;
  /** Which process answered (hostname-pid). */
  receiver: string;
}

/** What one sink did with the changes of one batch. */
export interface SinkResult {
  name: string;
  delivered: number;
  failed: number;
  error?: string;
}

/** What a worker did with an accepted batch. */
export interface ApplyResult {
  messageId: string;
  /** Epoch ms. */
  appliedAt: number;
  /** From acceptance to applied, in ms. */
  lagMs: number;
  entered: number;
  left: number;
  /** Users whose properties changed while they stayed in; absent from writers that did not count them. */
  updated?: number;
  /** Users of the batch whose register this apply did not change. */
  unchanged: number;
  /** One entry per sink, by name; `recordSinkResult` adds or replaces entries later. */
  sinks: SinkResult[];
  /** Which process applied it (hostname-pid). */
  worker: string;
}

export interface Delivery extends DeliveryReceipt {
  /** An opaque cursor; only the log that issued it orders it (newest first). */
  id: string;
  /** How many duplicates of this message_id arrived after it was accepted (0 on other rows). */
  duplicates: number;
  /** Set once a worker applied it (only on the accepting row). */
  applied?: ApplyResult;
}

export interface DeliveryQuery {
  outcome?: DeliveryOutcome;
  cohortId?: string;
  /** The direction: true entered, false left. */
  inCohort?: boolean;
  /** receivedAt >= from (epoch ms). */
  from?: number;
  /** receivedAt < to (epoch ms). */
  to?: number;
  /** Only deliveries older than this cursor (the previous page's `nextCursor`); one the log did not issue reads as none. */
  before?: string;
  limit: number;
}

export interface DeliveryPage {
  deliveries: Delivery[];
  /** Pass as `before` for the next (older) page; null when this was the last. */
  nextCursor: string | null;
}

/** Per cohort, from its latest sync (the accepted batches sharing its newest `computedTime`). */
export interface CohortActivity {
  /** receivedAt of the newest accepted batch (epoch ms). */
  lastBatchAt: number;
  /** Epoch seconds. */
  lastComputedTime: number;
  /** Summed over the applied batches of the latest sync. */
  entered: number;
  left: number;
}

export interface Retention {
  kept: number;
  max: number;
  /** receivedAt of the oldest kept delivery, null when none is kept. */
  oldestAt: number | null;
}

export interface DeliveryLog {
  /** Fire-and-forget: never throws, never awaits I/O; writes are batched. */
  recordReceipt(receipt: DeliveryReceipt): void;
  /** Fire-and-forget. May arrive before its receipt is written (another process); it is kept and attached. */
  recordApplied(result: ApplyResult): void;
  /**
   * Fire-and-forget: one sink's result for an applied batch, which may come long after the apply
   * (retries). Replaces that sink's earlier result on `applied.sinks`.
   */
  recordSinkResult(messageId: string, result: SinkResult): void;
  /** Newest first, in the order they were recorded. */
  list(query: DeliveryQuery): Promise<DeliveryPage>;
  /** The row that accepted `messageId`; failing that, the newest row carrying it. */
  get(messageId: string): Promise<Delivery | undefined>;
  /**
   * The live tail, oldest first: up to `limit` deliveries right after `afterId` (so calling again with
   * the last one's id never skips one still kept); the newest `limit` when `afterId` is undefined.
   */
  since(afterId: string | undefined, limit: number): Promise<Delivery[]>;
  cohortActivity(): Promise<Map<string, CohortActivity>>;
  retention(): Promise<Retention>;
  /** Resolves once every recorded item so far is written (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The bound when `INSPECT_MAX_DELIVERIES` is not set. */
export const defaultMaxDeliveries = 10_000;

/** A log that keeps nothing: `INSPECT=off`. */
export function createNoDeliveryLog(): DeliveryLog {
  const none = async () => undefined;
  return {
    recordReceipt() {},
    recordApplied() {},
    recordSinkResult() {},
    list: async () => ({ deliveries: [], nextCursor: null }),
    get: none,
    since: async () => [],
    cohortActivity: async () => new Map(),
    retention: async () => ({ kept: 0, max: 0, oldestAt: null }),
    flush: none,
    close: none,
  };
}
