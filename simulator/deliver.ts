/**
 * @module Sends the schedule the way Amplitude does: a few requests in parallel, each attempt
 * abandoned after a client timeout and retried with exponential backoff, so an endpoint that
 * answers late sees the same message again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { everyWriteRefused } from './refusal.ts';
import type { Delivery } from './schedule.ts';

export interface DeliverOptions {
  url: string;
  headers: Record<string, string>;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  /** Pause between segments, after the previous one is fully acknowledged. */
  stepGapMs: number;
}

/** One HTTP attempt, as the sender saw it. Times are milliseconds since delivery began. */
export interface AttemptRecord {
  messageIndex: number;
  copy: number;
  /** 1 for the first attempt of this delivery, then each retry. */
  attempt: number;
  startedAt: number;
  endedAt: number;
  /** The HTTP status, when an answer came in time. */
  status?: number;
  /** The answer body's `status` field, e.g. `accepted` or `duplicate`, when it has one. */
  answer?: string;
  /** Why no answer came: the client timeout, or a connection error. */
  failure?: 'timeout' | 'network-error';
  detail?: string;
}

export interface DeliveryResult extends Delivery {
  /** A 2xx answer came (after `attempts` attempts). */
  acknowledged: boolean;
  attempts: number;
  /** The outcome of the last attempt: `200`, `503`, `timeout`… */
  lastOutcome: string;
}

export interface DeliveryLog {
  attempts: AttemptRecord[];
  deliveries: DeliveryResult[];
  elapsedMs: number;
  /** The first writes were all refused for their credentials, and the rest was not sent. */
  refused: boolean;
}

export interface DeliverDeps {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

/** Longest wait between two attempts, however many retries: Amplitude's last retry is minutes away, not hours. */
const maxBackoffMs = 300_000;

/** Delivers every segment in turn and resolves when each delivery is acknowledged or given up. */
export async function deliverAll(
  segments: readonly (readonly Delivery[])[],
  bodies: readonly string[],
  options: DeliverOptions,
  deps: DeliverDeps = {},
): Promise<DeliveryLog> {
  const fetch = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const clock = () => now() - started;
  const limiter = new PQueue({ concurrency: options.concurrency });
  const attempts: AttemptRecord[] = [];
  const deliveries: DeliveryResult[] = [];
  let refused = false;
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Amplitude/Webhook/1.0',
    ...options.headers,
  };

  const attemptOnce = async (delivery: Delivery, attempt: number): Promise<AttemptRecord> => {
    const record: AttemptRecord = { ...delivery, attempt, startedAt: clock(), endedAt: 0 };
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers,
        body: bodies[delivery.messageIndex] ?? '',
        // Redirect handling is undocumented for Amplitude: a 3xx counts as an answer, not a hop.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      record.status = response.status;
      const answer = answerStatus(text);
      if (answer !== undefined) record.answer = answer;
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      record.failure = timedOut ? 'timeout' : 'network-error';
      record.detail = timedOut ? `no answer within ${options.timeoutMs} ms` : networkErrorDetail(error);
    }
    record.endedAt = clock();
    attempts.push(record);
    refused ||= everyWriteRefused(attempts);
    return record;
  };

  const deliverOne = async (delivery: Delivery) => {
    for (let attempt = 1; ; attempt++) {
      // Once refused, what waits for a slot is not sent: it would be refused the same way.
      const record = await limiter.add(() =>
        refused ? Promise.resolve(undefined) : attemptOnce(delivery, attempt),
      );
      if (record === undefined) return;
      const acknowledged = record.status !== undefined && record.status >= 200 && record.status < 300;
      if (acknowledged || !isRetryable(record) || attempt > options.retries) {
        const lastOutcome =
          record.status === undefined ? (record.failure ?? 'unknown') : String(record.status);
        deliveries.push({ ...delivery, acknowledged, attempts: attempt, lastOutcome });
        return;
      }
      // The slot is free while waiting, so other messages overtake this one, as with Amplitude.
      await sleep(Math.min(maxBackoffMs, options.backoffMs * 2 ** (attempt - 1)));
    }
  };

  for (const [index, segment] of segments.entries()) {
    if (refused) break;
    if (index > 0 && options.stepGapMs > 0) await sleep(options.stepGapMs);
    await Promise.all(segment.map(deliverOne));
  }
  return { attempts, deliveries, elapsedMs: clock(), refused };
}

/**
 * Retried: no answer, 408, 429 and 5xx (transient by HTTP's own meaning). Not retried: other 4xx
 * (the same bytes would be refused again) and 3xx.
 */
function isRetryable(record: AttemptRecord): boolean {
  if (record.status === undefined) return true;
  return record.status === 408 || record.status === 429 || record.status >= 500;
}

function answerStatus(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'status' in body && typeof body.status === 'string') {
      return body.status;
    }
  } catch {
    // Not JSON: any endpoint may answer what it likes; only the HTTP status matters.
  }
  return undefined;
}

function networkErrorDetail(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
