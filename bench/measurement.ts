/** @module What one measured run of one server yields, whichever load drove it. */
import type { GeneratedBody } from './payload-generator.ts';

/** Where to send: the full webhook URL (path and query included) and extra headers. */
export interface Endpoint {
  url: string;
  headers: Record<string, string>;
}

/** The headers Amplitude sends, plus the endpoint's own (a shared secret, say). */
export function requestHeaders(endpoint: Endpoint): Record<string, string> {
  return { 'content-type': 'application/json', 'user-agent': 'Amplitude/Webhook/1.0', ...endpoint.headers };
}

export interface LoadPlan {
  connections: number;
  /** Measured seconds; ignored when `requests` is set. */
  seconds: number;
  requests?: number | undefined;
  timeoutMs: number;
  nextBody: () => GeneratedBody;
  /** Called a few times a second with the share of the run done, 0-1. */
  onProgress?: ((fraction: number) => void) | undefined;
}

export interface Measurement {
  seconds: number;
  /** Answers received, any status. */
  responses: number;
  statusCodes: Record<string, number>;
  ok: number;
  non2xx: number;
  /** No answer within the timeout. Each also counts as a latency of (at least) the timeout. */
  timeouts: number;
  /** Connection errors other than timeouts. */
  errors: number;
  /** Users in bodies answered 2xx. */
  okUsers: number;
  /** Body bytes of requests answered 2xx. */
  okBytes: number;
  /** Sorted latencies, ms: one per answer and one per timeout. */
  latencies: Float64Array;
  /** Paced runs: how late the pacer sent, ms (a sanity check on the load generator). */
  sendLag?: { p99: number; max: number } | undefined;
}

/** Counts statuses and the users and bytes of what was sent, for both load drivers. */
export class ResponseTally {
  readonly statusCodes: Record<string, number> = {};
  ok = 0;
  non2xx = 0;
  timeouts = 0;
  errors = 0;
  private sentBodies = 0;
  private sentUsers = 0;
  private sentBytes = 0;

  sent(body: GeneratedBody) {
    this.sentBodies += 1;
    this.sentUsers += body.users;
    this.sentBytes += body.body.length;
  }

  answered(status: number) {
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    if (status >= 200 && status < 300) this.ok += 1;
    else this.non2xx += 1;
  }

  /**
   * Users and bytes per 2xx answer, from the mean of what was sent: autocannon does not say which
   * body an answer belongs to, and the bodies of one run differ by a few bytes at most.
   */
  finish(seconds: number, latencies: Float64Array, sendLag?: Measurement['sendLag']): Measurement {
    const perBody = (total: number) => (this.sentBodies === 0 ? 0 : total / this.sentBodies);
    return {
      seconds,
      responses: this.ok + this.non2xx,
      statusCodes: this.statusCodes,
      ok: this.ok,
      non2xx: this.non2xx,
      timeouts: this.timeouts,
      errors: this.errors,
      okUsers: Math.round(this.ok * perBody(this.sentUsers)),
      okBytes: Math.round(this.ok * perBody(this.sentBytes)),
      latencies,
      sendLag,
    };
  }
}
