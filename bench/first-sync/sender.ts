/**
 * @module Amplitude's sender, as it plays a cohort's first sync: every batch posted once, a few at a
 * time; an answer that takes longer than the window is a timeout, and a timeout or anything but a
 * 200 is sent again after a growing pause, until the retries run out and the batch is given up.
 * Partner cohort syncs retry 8 times from 1 s to about 2 min; the cohort webhook documents nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface SenderOptions {
  url: string;
  headers: Record<string, string>;
  /** Batches sent at once. @default 4 */
  inFlight: number;
  /** How long an answer may take before the request counts as timed out. @default 2000 */
  timeoutMs: number;
  /** The pause before each retry; its length is the number of retries. @default 1 s doubling to 128 s */
  backoffMs: readonly number[];
  /** Stops sending (the batches not sent yet are not counted). */
  signal?: AbortSignal;
}

export const amplitudeBackoffMs = [1, 2, 4, 8, 16, 32, 64, 128].map((seconds) => seconds * 1000);

export interface SenderResult {
  batches: number;
  /** Batches that got a 200, at the first attempt or a later one. */
  delivered: number;
  /** Batches whose every attempt failed: a silently incomplete cohort. */
  givenUp: number;
  attempts: number;
  timeouts: number;
  /** Answers by status (a timeout or a connection error is not an answer). */
  statuses: Record<number, number>;
  connectionErrors: number;
  /** The most retries one batch needed before its 200. */
  mostRetries: number;
  /** From the first request to the last batch's 200 or give-up. */
  busyMs: number;
  /** Every answered attempt's time, in ms, sorted. */
  latenciesMs: number[];
}

/** Sends `count` batches, batch `i` being `bodyOf(i)`, and says how it went. */
export async function sendLikeAmplitude(
  count: number,
  bodyOf: (index: number) => string,
  options: SenderOptions,
): Promise<SenderResult> {
  const result: SenderResult = {
    batches: count,
    delivered: 0,
    givenUp: 0,
    attempts: 0,
    timeouts: 0,
    statuses: {},
    connectionErrors: 0,
    mostRetries: 0,
    busyMs: 0,
    latenciesMs: [],
  };
  const started = performance.now();
  let next = 0;

  /** One attempt: true on a 200. */
  const attempt = async (body: string): Promise<boolean> => {
    result.attempts += 1;
    const sentAt = performance.now();
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer();
      result.latenciesMs.push(performance.now() - sentAt);
      result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
      return response.status === 200;
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') result.timeouts += 1;
      else result.connectionErrors += 1;
      return false;
    }
  };

  const lane = async () => {
    while (next < count && !options.signal?.aborted) {
      const body = bodyOf(next++);
      let retries = 0;
      for (;;) {
        if (await attempt(body)) {
          result.delivered += 1;
          result.mostRetries = Math.max(result.mostRetries, retries);
          break;
        }
        const pause = options.backoffMs[retries];
        if (pause === undefined) {
          result.givenUp += 1;
          break;
        }
        retries += 1;
        await sleep(pause, undefined, options.signal ? { signal: options.signal } : {}).catch(
          () => undefined,
        );
        if (options.signal?.aborted) return;
      }
    }
  };
  await Promise.all(Array.from({ length: options.inFlight }, lane));
  result.busyMs = performance.now() - started;
  result.latenciesMs.sort((a, b) => a - b);
  return result;
}

/** The latency at quantile `q` of sorted `latencies`, ms. */
export function quantile(latencies: readonly number[], q: number): number {
  if (latencies.length === 0) return 0;
  return latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
}
