/**
 * @module One batch of changes to one sink, tried until it is delivered, retrying cannot help, or
 * the attempts run out; between attempts, exponential backoff with full jitter, never shorter than
 * the wait the downstream asked for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MembershipChange } from '../store/store.ts';
import { type Sink, SinkError } from './sink.ts';

export interface RetryOptions {
  /** Attempts before giving up. @default 8 */
  maxAttempts?: number;
  /** The ceiling of the jittered wait before retry n (1-based). @default 500 ms doubling, at most 30 s */
  backoffMs?: (retry: number) => number;
  /** The longest wait a `Retry-After` may impose; a longer one is cut to this. @default 60_000 */
  maxRetryAfterMs?: number;
  /** Aborting it stops the waits between attempts: the send rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each failed attempt, e.g. to count it. */
  onFailedAttempt?: (error: unknown, attempt: number) => void;
  logger?: Logger;
  /** @default Math.random */
  random?: () => number;
}

/** Why sending gave up: the last error and how many attempts were made. */
export interface SendFailure {
  error: Error;
  attempts: number;
}

/** SINK_MAX_ATTEMPTS when unset. */
export const defaultSinkMaxAttempts = 8;

const defaultBackoff = (retry: number) => Math.min(30_000, 500 * 2 ** (retry - 1));

/** Resolves undefined once `sink` has `changes`, or with the failure once it gives up. */
export async function sendWithRetries(
  sink: Sink,
  changes: readonly MembershipChange[],
  options: RetryOptions = {},
): Promise<SendFailure | undefined> {
  const maxAttempts = options.maxAttempts ?? defaultSinkMaxAttempts;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await sink.send(changes);
      return undefined;
    } catch (caught) {
      options.signal?.throwIfAborted();
      const error = caught instanceof Error ? caught : new Error(String(caught));
      options.onFailedAttempt?.(error, attempt);
      if (attempt >= maxAttempts || (error instanceof SinkError && !error.retryable)) {
        return { error, attempts: attempt };
      }
      const waitMs = retryDelayMs(attempt, error, options);
      options.logger?.warn(
        { err: error, sink: sink.name, attempt, wait_ms: waitMs, changes: changes.length },
        'sink send failed, will retry',
      );
      // An aborted sleep rejects with a generic AbortError; the signal's reason says why.
      await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {}).catch((error) => {
        options.signal?.throwIfAborted();
        throw error;
      });
    }
  }
}

/**
 * Full jitter (a uniform wait up to the backoff ceiling) spreads retries from many workers apart;
 * a `Retry-After` is a floor, since the downstream said when it can take more.
 */
export function retryDelayMs(retry: number, error: unknown, options: RetryOptions = {}): number {
  const ceiling = (options.backoffMs ?? defaultBackoff)(retry);
  const jittered = Math.round((options.random ?? Math.random)() * ceiling);
  const asked = error instanceof SinkError ? error.retryAfterMs : undefined;
  if (asked === undefined) return jittered;
  return Math.max(jittered, Math.min(asked, options.maxRetryAfterMs ?? 60_000));
}
