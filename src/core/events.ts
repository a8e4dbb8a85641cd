/**
 * @module What the core tells the rest: every answered request and webhook, every applied batch,
 * dead letter and sink result, as events on one emitter per receiver. Metrics, the inspector and
 * anything else that watches subscribe here; the ack path and the worker never call them.
 */
import { EventEmitter } from 'node:events';
import type { LetterKind } from './dead-letters/dead-letters.ts';

/** One HTTP answer: what the request log line says. */
export interface RequestAnswered {
  /** The route pattern (`/cohorts/:cohort_id/members`), never the path: ids would explode label sets. */
  route: string;
  status: number;
  ms: number;
}

/** How a webhook was answered. */
export type WebhookOutcome = 'accepted' | 'duplicate' | 'rejected' | 'unavailable';

/**
 * A webhook the receiver answered with a verdict on its body. Not emitted for 401s (no trusted
 * body), bodies the client abandoned (nobody reads that answer) and our own 500s (logged whole).
 */
export interface WebhookAnswered {
  outcome: WebhookOutcome;
  status: number;
  /** The rejection or 503 reason. */
  reason?: string;
  /** Null when the body carried none that could be read. */
  messageId: string | null;
  cohortId?: string;
  cohortName?: string;
  /** true: the users entered the cohort; false: they left it. */
  inCohort?: boolean;
  users?: number;
  /** The first {@link maxEventUserIds} user ids of the batch, in its order (a delivery page lists them). */
  userIds?: string[];
  /** Epoch seconds, as Amplitude sent it. */
  computedTime?: number;
  /** Epoch ms. */
  receivedAt: number;
  /** From the start of the request to the decided answer. */
  ackMs: number;
  /** The dead letter holding a rejected body, when it could be kept. */
  quarantineId?: string;
}

/**
 * How many user ids a `webhook` event carries, and at most how many characters they take together:
 * enough to recognise a batch, bounded whatever its size, since the inspector keeps them with each
 * of up to 10,000 deliveries (on disk with QUEUE=sqlite: 50 ids a row filled a small disk).
 */
export const maxEventUserIds = 20;
export const maxEventUserIdChars = 400;

/** How many users of a batch entered, left, were updated or left unchanged by its apply. */
export interface ChangeCounts {
  entered: number;
  left: number;
  updated: number;
  unchanged: number;
}

/**
 * A batch the store committed, and how many of its users changed (restated ones count as
 * unchanged); the changes themselves go to the sinks.
 */
export interface BatchApplied extends ChangeCounts {
  messageId: string;
  cohortId: string;
  cohortName: string;
  inCohort: boolean;
  users: number;
  /** From acceptance to commit. */
  lagMs: number;
  /** Epoch ms. */
  appliedAt: number;
}

/** What one sink did with the changes of one batch, retries included. */
export interface SinkOutcome {
  sink: string;
  messageId: string | undefined;
  delivered: number;
  /** Changes set aside as a `sink` dead letter. */
  failed: number;
  /** The last error, when some failed. */
  error?: string;
}

export interface ReceiverEventMap {
  request: [RequestAnswered];
  webhook: [WebhookAnswered];
  applied: [BatchApplied];
  /** One failed attempt to apply a batch; the worker retries until APPLY_MAX_ATTEMPTS. */
  applyFailed: [{ messageId: string; attempt: number; error: Error }];
  deadLettered: [{ kind: LetterKind; messageId: string | undefined }];
  /** An apply found the store away (unreachable, restarting); the worker waits and tries again. */
  storeUnavailable: [{ messageId: string; error: Error }];
  /** The store went away (false) or answered again (true, with how long it was away). */
  storeAvailability: [{ available: boolean; awayMs?: number }];
  /** One failed attempt to hand changes to a sink. */
  sinkAttemptFailed: [{ sink: string }];
  sinkOutcome: [SinkOutcome];
}

/** Listeners run synchronously where the event happens: they must be quick and must not throw. */
export type ReceiverEvents = EventEmitter<ReceiverEventMap>;

export function createReceiverEvents(): ReceiverEvents {
  return new EventEmitter<ReceiverEventMap>();
}
