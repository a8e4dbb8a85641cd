/**
 * @module An Amplitude-like client for the fault tests: posts batches a few at a time and sends a
 * batch again after every answer but a 200 (and after a dropped connection or a timeout), with a
 * short backoff, until it gets its 200 or runs out of attempts. Amplitude spreads ~8 attempts over
 * ~4 minutes; this compresses that into many quick ones, still enough to outlast a 20 s outage.
 *
 * It records every attempt's answer, so a test can assert "never a 500", "every 503 had
 * Retry-After" and "no request hung", and every batch that got a 200 (accepted or duplicate):
 * what the receiver must hold in the end (membership-check.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CohortBatch } from '../../src/core/batch.ts';
import { webhookBody } from './traffic.ts';

export interface SenderOptions {
  /** The receiver's base URL; a function when it changes (a restarted process on a new port). */
  url: string | (() => string);
  batches: readonly CohortBatch[];
  headers?: Record<string, string>;
  /** Requests in flight, as Amplitude keeps about 4. @default 4 */
  inFlight?: number;
  /** Attempts per batch before it is given up. @default 60 */
  maxAttempts?: number;
  /** Pause before retry n (1-based). @default 100 ms doubling, at most 1 s */
  backoffMs?: (retry: number) => number;
  /** Pause between a lane's batches, to stretch the traffic over a fault. @default 0 */
  gapMs?: number;
  /** An answer slower than this is a hung request: aborted, counted and retried. @default 10 s */
  clientTimeoutMs?: number;
}

/** One attempt and how it went. */
export interface Attempt {
  messageId: string;
  /** The HTTP status; 0 when the connection failed or the request hung. */
  status: number;
  /** `error` or `reason` of a rejection's JSON body, `status` of a 200's. */
  outcome: string | undefined;
  retryAfter: string | null;
  /** When it was sent and answered, epoch ms. */
  sentAt: number;
  answeredAt: number;
  /** True when it was aborted after `clientTimeoutMs`. */
  hung: boolean;
}

export interface SenderReport {
  /** Every batch that got a 200, in the order they got it. */
  acknowledged: CohortBatch[];
  /** Batches whose every attempt failed. */
  givenUp: CohortBatch[];
  attempts: Attempt[];
}

export interface RunningSender {
  /** Resolves when every batch got its 200 or was given up. */
  done: Promise<SenderReport>;
  /** Batches that got a 200 so far. */
  acknowledgedCount(): number;
  /** The batches that got a 200 so far, in the order they got it. */
  acknowledged(): readonly CohortBatch[];
  /** Every attempt so far. */
  attempts(): readonly Attempt[];
  /** Sends no further batch; the ones in flight still retry until their 200 or give up. */
  stop(): void;
}

const defaultBackoff = (retry: number) => Math.min(1000, 100 * 2 ** (retry - 1));

/** Starts sending `batches` in order, `inFlight` at a time. */
export function startSender(options: SenderOptions): RunningSender {
  const attempts: Attempt[] = [];
  const acknowledged: CohortBatch[] = [];
  const givenUp: CohortBatch[] = [];
  const urlOf = typeof options.url === 'string' ? () => options.url as string : options.url;
  const maxAttempts = options.maxAttempts ?? 60;
  const backoff = options.backoffMs ?? defaultBackoff;
  let next = 0;
  let stopped = false;

  const sendOne = async (batch: CohortBatch) => {
    const body = webhookBody(batch);
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (attempt > 1) await sleep(backoff(attempt - 1));
      const answer = await post(urlOf(), body, batch.messageId, options);
      attempts.push(answer);
      if (answer.status === 200) {
        acknowledged.push(batch);
        return;
      }
    }
    givenUp.push(batch);
  };
  const lane = async () => {
    for (let index = next++; index < options.batches.length && !stopped; index = next++) {
      await sendOne(options.batches[index] as CohortBatch);
      if (options.gapMs) await sleep(options.gapMs);
    }
  };
  const lanes = Array.from({ length: options.inFlight ?? 4 }, lane);
  return {
    done: Promise.all(lanes).then(() => ({ acknowledged, givenUp, attempts })),
    acknowledgedCount: () => acknowledged.length,
    acknowledged: () => acknowledged,
    attempts: () => attempts,
    stop: () => {
      stopped = true;
    },
  };
}

async function post(url: string, body: string, messageId: string, options: SenderOptions): Promise<Attempt> {
  const sentAt = Date.now();
  const timeoutMs = options.clientTimeoutMs ?? 10_000;
  try {
    const response = await fetch(`${url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    const json = parseJson(text);
    return {
      messageId,
      status: response.status,
      outcome: String(json.status ?? json.reason ?? json.error ?? ''),
      retryAfter: response.headers.get('retry-after'),
      sentAt,
      answeredAt: Date.now(),
      hung: false,
    };
  } catch (error) {
    const hung = (error as Error).name === 'TimeoutError';
    return {
      messageId,
      status: 0,
      outcome: undefined,
      retryAfter: null,
      sentAt,
      answeredAt: Date.now(),
      hung,
    };
  }
}

function parseJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { error: `not JSON: ${text.slice(0, 80)}` };
  }
}

/** Answers by status, e.g. `{ 200: 310, 503: 42, 0: 3 }`: the shape a failing assertion prints best. */
export function statusCounts(attempts: readonly Attempt[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of attempts) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}
