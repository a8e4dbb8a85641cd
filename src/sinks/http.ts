/**
 * @module The `http` sink: POSTs membership changes as JSON, in batches, at most as fast as the
 * downstream API allows. Retries, backoff and dead letters come from the dispatcher; this sink says
 * which answers are worth retrying and how long the downstream asked to wait.
 */
import { createHash } from 'node:crypto';
import PQueue from 'p-queue';
import { z } from 'zod';
import { changeKey, type Sink, SinkError } from '../core/sinks/sink.ts';
import type { MembershipChange } from '../core/store/store.ts';
import { integer } from '../runtime/settings.ts';
import { defineSink } from '../runtime/sink-definition.ts';
import { parseRetryAfter } from './retry-after.ts';

/** HEADERS: a JSON object, the one format in which any header value can be written. */
function parseJsonObject(text: string, context: z.RefinementCtx): unknown {
  try {
    return JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"Authorization":"Bearer …"}' });
    return z.NEVER;
  }
}

/**
 * The `http` sink's settings, read from `SINK_HTTP_*` (from `SINK_HTTP_CRM_*` for `SINKS=http:crm`).
 * A sink that POSTs JSON can extend them, as `example-crm-tags.ts` does.
 */
export const httpSettings = z.object({
  URL: z
    .url({
      protocol: /^https?$/,
      error: (issue) =>
        issue.input === undefined ? 'required: where the sink POSTs' : 'must be an http:// or https:// URL',
    })
    // fetch refuses such a URL, and its error would print the password into the log.
    .refine(
      (url) => !URL.canParse(url) || (new URL(url).username === '' && new URL(url).password === ''),
      'must not carry a user or password: put credentials in SINK_<NAME>_HEADERS',
    ),
  HEADERS: z
    .string()
    .default('{}')
    .transform(parseJsonObject)
    .pipe(
      z.record(
        z.string().regex(/^[!#$%&'*+.^_`|~\w-]+$/),
        z
          .string({ error: 'header values must be strings' })
          .regex(/^[^\r\n\0]*$/, 'a header value holds no line break or NUL'),
        {
          error: (issue) =>
            issue.code === 'invalid_key'
              ? 'a header name holds no spaces or separators'
              : 'must be a JSON object, e.g. {"Authorization":"Bearer …"}',
        },
      ),
    ),
  RATE_PER_SECOND: z.coerce
    .number({ error: 'must be a positive number of requests per second, e.g. 0.5' })
    .positive({ error: 'must be a positive number of requests per second, e.g. 0.5' })
    .optional(),
  CONCURRENCY: integer(4, 1, 256),
  BATCH_SIZE: integer(100, 1, 100_000),
  TIMEOUT_MS: integer(10_000, 1),
});

export type HttpSettings = z.output<typeof httpSettings>;

/** The options of `createHttpSink` that its settings give. */
export function httpOptions(settings: HttpSettings) {
  return {
    url: settings.URL,
    headers: settings.HEADERS,
    ratePerSecond: settings.RATE_PER_SECOND,
    concurrency: settings.CONCURRENCY,
    batchSize: settings.BATCH_SIZE,
    timeoutMs: settings.TIMEOUT_MS,
  } satisfies HttpSinkOptions;
}

export const httpSink = defineSink({
  kind: 'http',
  settings: httpSettings,
  create: (settings, { name }) => createHttpSink({ ...httpOptions(settings), name }),
});

export interface HttpSinkOptions {
  /** Where to POST. */
  url: string;
  /** Sent with every request, after (so able to replace) the sink's own `content-type` and `user-agent`. */
  headers?: Record<string, string>;
  /** Requests per second the downstream allows, counting retries. @default unlimited */
  ratePerSecond?: number | undefined;
  /** Requests in flight at once. @default 4 */
  concurrency?: number;
  /** Changes per request. @default 100 */
  batchSize?: number;
  /** A request that has not answered by then fails, and is retried. @default 10_000 */
  timeoutMs?: number;
  /** @default 'http' */
  name?: string;
  /** The request body for a batch of changes. @default `{"changes": [toWireChange(change), …]}` */
  toBody?: (changes: readonly MembershipChange[]) => unknown;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** One change as the default body carries it: snake_case, like the receiver's own API. */
export interface WireChange {
  /** The idempotency key: see `changeKey`. */
  key: string;
  cohort_id: string;
  cohort_name: string;
  user_id: string;
  kind: MembershipChange['kind'];
  /** The state to set: true unless `kind` is `left`. */
  in_cohort: boolean;
  computed_time: number;
  message_id: string;
  user_properties: Record<string, unknown> | null;
  /** True when sent again (after a crash, a replay, a backfill) rather than because the user just changed. */
  restated: boolean;
}

export function toWireChange(change: MembershipChange): WireChange {
  return {
    key: changeKey(change),
    cohort_id: change.cohortId,
    cohort_name: change.cohortName,
    user_id: change.userId,
    kind: change.kind,
    in_cohort: change.kind !== 'left',
    computed_time: change.computedTime,
    message_id: change.messageId,
    user_properties: change.properties ?? null,
    restated: change.restated === true,
  };
}

/**
 * Downstreams count requests as they arrive, and network jitter can bunch requests that left on
 * time; pacing windows this much wider keeps arrivals under the limit too.
 */
const RATE_MARGIN = 1.05;

export function createHttpSink(options: HttpSinkOptions): Sink {
  const {
    url,
    concurrency = 4,
    batchSize = 100,
    timeoutMs = 10_000,
    name = 'http',
    toBody = (changes) => ({ changes: changes.map(toWireChange) }),
  } = options;
  assertPositiveInteger('concurrency', concurrency);
  assertPositiveInteger('batchSize', batchSize);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  // Errors name the URL without its query string, which may hold a key.
  const target = `${new URL(url).origin}${new URL(url).pathname}`;
  const baseHeaders = {
    'content-type': 'application/json',
    'user-agent': 'cohort-receiver',
    ...options.headers,
  };
  const requests = new PQueue({ concurrency, ...rateLimit(options.ratePerSecond) });
  const closing = new AbortController();

  const post = async (changes: readonly MembershipChange[]) => {
    // A timer of our own, not AbortSignal.timeout(): combined through AbortSignal.any on Node 20, a
    // timeout signal can be garbage-collected before it fires, and a hung downstream then hangs the
    // sink for good (seen under load in tests).
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      return await send(changes, AbortSignal.any([timeout.signal, closing.signal]));
    } finally {
      clearTimeout(timer);
    }
  };

  const send = async (changes: readonly MembershipChange[], signal: AbortSignal) => {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        // One key per batch of changes, the same on every retry, for downstreams that dedupe requests.
        headers: { 'idempotency-key': batchKey(changes), ...baseHeaders },
        body: JSON.stringify(toBody(changes)),
        signal,
      });
    } catch (error) {
      throw new SinkError(`POST ${target} failed: ${(error as Error).message}`, { cause: error });
    }
    // Read the body whatever the status, so the connection is free for the next request.
    const text = await response.text().catch(() => '');
    if (response.ok) return;
    const { status } = response;
    // Per RFC 9110, 408 and 5xx are worth repeating, and 429 asks for it (RFC 6585); any other
    // answer would come back the same.
    throw new SinkError(`POST ${target} answered ${status}: ${text.slice(0, 200)}`, {
      retryable: status === 408 || status === 429 || status >= 500,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    });
  };

  return {
    name,
    batchSize,
    concurrency,
    async send(changes) {
      await requests.add(() => post(changes), { signal: closing.signal });
    },
    async close() {
      closing.abort(new Error(`${name} sink closed`));
      requests.clear();
    },
  };
}

/** p-queue options for a rate limit: a sliding window, so no burst ever straddles two windows. */
function rateLimit(ratePerSecond: number | undefined) {
  if (ratePerSecond === undefined) return {};
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new RangeError(`Expected \`ratePerSecond\` to be a positive number, got \`${ratePerSecond}\``);
  }
  // 5/s is 5 per second; 0.5/s is 1 per 2 seconds (p-queue counts whole requests per window).
  const intervalCap = Math.max(1, Math.floor(ratePerSecond));
  const interval = Math.ceil(((intervalCap * 1000) / ratePerSecond) * RATE_MARGIN);
  return { intervalCap, interval, strict: true };
}

function batchKey(changes: readonly MembershipChange[]): string {
  const hash = createHash('sha256');
  for (const change of changes) hash.update(changeKey(change));
  return hash.digest('hex');
}

function assertPositiveInteger(name: string, value: number) {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected \`${name}\` to be a positive integer, got \`${value}\` (${typeof value})`);
  }
}
