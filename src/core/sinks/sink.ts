/**
 * @module The Sink port: where effective membership changes go after the store committed them.
 * A sink only sends; the dispatcher (`dispatcher.ts`) gives every sink per-user order, retries with
 * backoff and dead letters, so a sink of your own is one small file (docs/sinks.md).
 */
import { createHash } from 'node:crypto';
import type { MembershipChange } from '../store/store.ts';

/**
 * Sends membership changes somewhere. What a sink may assume about the changes it is given:
 * - **at least once**: a change can come again (a retry, a batch delivered again after a crash);
 *   treat each one as "set this user's state in this cohort", and dedupe on {@link changeKey}.
 * - **per-user order**: for one (cohortId, userId), changes arrive in the register's order, and a
 *   call never holds two changes for the same user.
 * - calls for disjoint users may overlap, up to `concurrency`.
 */
export interface Sink {
  /** Names the sink in logs, metrics and dead letters: `log`, `http`, yours. */
  readonly name: string;
  /** The most changes handed to one `send` call. @default unlimited */
  readonly batchSize?: number;
  /** How many `send` calls may run at once (each on its own users). @default 1 */
  readonly concurrency?: number;
  /**
   * Hands `changes` downstream; resolves once the downstream has them. A rejection is retried with
   * backoff; throw a {@link SinkError} to say when to retry, or that retrying cannot help.
   */
  send(changes: readonly MembershipChange[]): Promise<void>;
  /** Releases what the sink holds (sockets, timers). */
  close?(): Promise<void>;
}

/** A failed send that says how to go on. Any other error is retried with the usual backoff. */
export class SinkError extends Error {
  override name = 'SinkError';
  /** False when a retry would get the same answer (e.g. HTTP 400): dead-letter at once. */
  readonly retryable: boolean;
  /** The least wait before the next attempt, e.g. from a `Retry-After` header. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? true;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The idempotency key of a change: the same (cohortId, userId, messageId) always gives the same
 * key, so a downstream can drop a change it has already applied. A SHA-256 in hex, because ids are
 * free text and a fixed-size key fits any column or header.
 */
export function changeKey(change: Pick<MembershipChange, 'cohortId' | 'userId' | 'messageId'>): string {
  return createHash('sha256')
    .update(JSON.stringify([change.cohortId, change.userId, change.messageId]))
    .digest('hex');
}
