/**
 * @module Saturation (closed loop): N connections, each sending its next body as soon as the last
 * answer arrives — peak throughput. Driven by autocannon; each request's body comes from the
 * generator through `setupRequest`, so every request carries a fresh message_id.
 */
import autocannon from 'autocannon';
import { LatencyRecorder } from './latency.ts';
import {
  type Endpoint,
  type LoadPlan,
  type Measurement,
  ResponseTally,
  requestHeaders,
} from './measurement.ts';

export async function runSaturated(endpoint: Endpoint, plan: LoadPlan): Promise<Measurement> {
  const recorder = new LatencyRecorder();
  const tally = new ResponseTally();
  const started = performance.now();
  let finished: (error: Error | null, result: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finished = (error, result) => (error ? reject(error) : resolve(result));
  });
  // The callback form: without it autocannon returns a promise that rejects unobserved on bad options.
  const instance = autocannon(
    {
      url: endpoint.url,
      method: 'POST',
      connections: plan.connections,
      headers: requestHeaders(endpoint),
      timeout: plan.timeoutMs / 1000,
      ...(plan.requests === undefined ? { duration: plan.seconds } : { amount: plan.requests }),
      requests: [
        {
          setupRequest(request) {
            const generated = plan.nextBody();
            tally.sent(generated);
            request.body = generated.body;
            return request;
          },
        },
      ],
    },
    (error, result) => finished(error, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    recorder.record(responseTime);
    tally.answered(statusCode);
  });
  const progress = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    plan.onProgress?.(plan.requests === undefined ? elapsed / plan.seconds : recorder.count / plan.requests);
  }, 250);
  try {
    const result = await done;
    const seconds = (performance.now() - started) / 1000;
    // autocannon counts a timeout as an error too; a timeout is a latency of at least the timeout.
    tally.timeouts = result.timeouts;
    tally.errors = result.errors - result.timeouts;
    for (let i = 0; i < result.timeouts; i++) recorder.record(plan.timeoutMs);
    return tally.finish(seconds, recorder.sorted());
  } finally {
    clearInterval(progress);
  }
}
