/**
 * @module The paced probe of the first-sync run: 100-user bodies at a fixed rate (open loop,
 * pace.ts) to another cohort, first against the bare parse-and-answer server B alone, then against
 * the receiver for as long as the sync's backlog applies. Its p99 against B's says whether a first
 * sync being applied holds up the answers to everything else Amplitude sends meanwhile.
 */
import { percentile } from '../latency.ts';
import type { Endpoint } from '../measurement.ts';
import { runPaced } from '../pace.ts';
import { amplitudeBodies } from '../payload-generator.ts';

export interface ProbeOptions {
  /** Bodies a second. */
  rate: number;
  usersPerBody: number;
  /** Seconds each paced run lasts: the backlog's probe is several of them back to back. */
  chunkSeconds: number;
}

export const defaultProbe: ProbeOptions = { rate: 20, usersPerBody: 100, chunkSeconds: 5 };

export interface ProbeResult {
  requests: number;
  non2xx: number;
  timeouts: number;
  p50: number;
  p99: number;
  max: number;
}

/** Paces bodies at `endpoint` until `done()` says stop (checked between chunks), then sums up. */
export async function probeUntil(
  endpoint: Endpoint,
  options: ProbeOptions,
  done: () => boolean,
  seed: number,
): Promise<ProbeResult> {
  const bodies = amplitudeBodies(options.usersPerBody, seed);
  const nextBody = () => bodies.next();
  const latencies: number[] = [];
  let non2xx = 0;
  let timeouts = 0;
  do {
    const run = await runPaced(endpoint, {
      connections: 4,
      seconds: options.chunkSeconds,
      timeoutMs: 2000,
      rate: options.rate,
      nextBody,
    });
    latencies.push(...run.latencies);
    non2xx += run.non2xx + run.errors;
    timeouts += run.timeouts;
  } while (!done());
  latencies.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    requests: latencies.length,
    non2xx,
    timeouts,
    p50: round(percentile(latencies, 0.5)),
    p99: round(percentile(latencies, 0.99)),
    max: round(latencies.at(-1) ?? Number.NaN),
  };
}
