/**
 * @module A fixed arrival rate (open loop): request i is due at start + i / rate whether or not
 * earlier ones were answered, and its latency is timed from that *scheduled* time. A stall in the
 * server therefore shows in every request it delays (no coordinated omission), which autocannon's
 * own rate options — each second's quota sent as a burst — cannot show.
 *
 * Requests share a pool of `connections` keep-alive connections, like Amplitude's parallel senders:
 * when all are busy, due requests wait, and the wait counts.
 */
import { setTimeout as sleep, setImmediate as yieldOnce } from 'node:timers/promises';
import { Pool } from 'undici';
import { LatencyRecorder, percentile } from './latency.ts';
import {
  type Endpoint,
  type LoadPlan,
  type Measurement,
  ResponseTally,
  requestHeaders,
} from './measurement.ts';

/** Timer wake-ups are ~1 ms late; the last stretch before a due time is spun out instead. */
const spinMs = 1.5;

export async function runPaced(endpoint: Endpoint, plan: LoadPlan & { rate: number }): Promise<Measurement> {
  const target = new URL(endpoint.url);
  const path = target.pathname + target.search;
  const headers = requestHeaders(endpoint);
  const pool = new Pool(target.origin, {
    connections: plan.connections,
    pipelining: 1,
    headersTimeout: plan.timeoutMs,
    bodyTimeout: plan.timeoutMs,
    connect: { timeout: plan.timeoutMs },
  });
  const recorder = new LatencyRecorder();
  const sendLag = new LatencyRecorder();
  const tally = new ResponseTally();
  const total = plan.requests ?? Math.max(1, Math.round(plan.rate * plan.seconds));
  const intervalMs = 1000 / plan.rate;
  const inFlight = new Set<Promise<void>>();

  const send = (scheduled: number) => {
    const generated = plan.nextBody();
    tally.sent(generated);
    sendLag.record(performance.now() - scheduled);
    const request = pool
      .request({ path, method: 'POST', headers, body: generated.body })
      .then(async (response) => {
        await response.body.dump();
        recorder.record(performance.now() - scheduled);
        tally.answered(response.statusCode);
      })
      .catch((error: { code?: string }) => {
        if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') {
          tally.timeouts += 1;
          recorder.record(Math.max(plan.timeoutMs, performance.now() - scheduled));
        } else {
          // As in saturation runs: a refused or reset connection is an error, not a latency.
          tally.errors += 1;
        }
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };

  const started = performance.now();
  let lastProgress = started;
  try {
    for (let index = 0; index < total; index++) {
      const scheduled = started + index * intervalMs;
      await waitUntil(scheduled);
      send(scheduled);
      if (plan.onProgress && performance.now() - lastProgress > 250) {
        lastProgress = performance.now();
        plan.onProgress(index / total);
      }
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  // The run lasts as long as it was scheduled to, so the rate reads true even if answers trailed.
  const seconds = Math.max(total * intervalMs, 1) / 1000;
  const lag = sendLag.sorted();
  return tally.finish(seconds, recorder.sorted(), { p99: percentile(lag, 0.99), max: percentile(lag, 1) });
}

async function waitUntil(due: number) {
  const wait = due - performance.now();
  if (wait > spinMs) await sleep(wait - spinMs);
  while (performance.now() < due) await yieldOnce();
}
