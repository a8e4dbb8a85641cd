/**
 * The inspector mounted as the receiver mounts it (behind the request log), on real memory parts:
 * DATA's memory delivery log, memory dead letters, store and queue, the real replay.
 */
import { Hono } from 'hono';
import { pino } from 'pino';
import type { CohortBatch } from '../../src/core/batch.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import type { AppEnv } from '../../src/core/http/app-env.ts';
import { requestLog } from '../../src/core/http/request-log.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import type { DeliveryReceipt } from '../../src/inspect/deliveries/delivery-log.ts';
import { createMemoryDeliveryLog } from '../../src/inspect/deliveries/memory.ts';
import { createInspector, type InspectorDeps } from '../../src/inspect/inspector.tsx';
import { replayLetter } from '../../src/replay/replay-letter.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';

export const base = '/inspect';
export const token = 'admin-secret-token';

export interface InspectorHarnessOptions extends Partial<InspectorDeps> {
  /** The socket address the requests appear to come from. @default '127.0.0.1' */
  remoteAddress?: string;
}

export function createInspectorHarness(options: InspectorHarnessOptions = {}) {
  const logLines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  const queue = createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: 1_000_000 });
  const store = createMemoryStore();
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 10_000 });
  const deliveryLog = createMemoryDeliveryLog({ maxDeliveries: 1000 });
  const events = createReceiverEvents();
  const metrics = createMetrics({ events, queueStats: () => queue.stats() });
  const parseBatch = createBatchParser();
  let clock = 1_700_000_000_000;
  const inspector = createInspector({
    deliveryLog,
    deadLetters,
    queue,
    store,
    metrics,
    logger,
    replay: (letter) => replayLetter(letter, { queue, store, parseBatch, sinkReplay: () => ({ sinks: [] }) }),
    tokens: [token],
    basePath: base,
    mode: { queue: 'memory', store: 'memory', role: 'all' },
    version: '9.9.9-test',
    livePollMs: 10,
    now: () => clock,
    ...options,
  });
  const app = new Hono<AppEnv>();
  app.use(requestLog({ logger, events }));
  app.route(base, inspector.app);
  const env = { incoming: { socket: { remoteAddress: options.remoteAddress ?? '127.0.0.1' } } };

  /** A request as a same-origin browser sends it, with the session cookie when given. */
  const request = (path: string, init: RequestInit & { cookie?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    if (init.cookie) headers.set('cookie', init.cookie);
    if (init.method === 'POST' && !headers.has('sec-fetch-site'))
      headers.set('sec-fetch-site', 'same-origin');
    return app.request(`http://inspect.test${path}`, { ...init, headers }, env as never);
  };
  const form = (fields: Record<string, string | string[]>) => {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(fields))
      for (const one of [value].flat()) body.append(key, one);
    return body;
  };
  const post = (
    path: string,
    fields: Record<string, string | string[]>,
    init: RequestInit & { cookie?: string } = {},
  ) =>
    request(path, {
      ...init,
      method: 'POST',
      body: form(fields),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...Object.fromEntries(new Headers(init.headers)),
      },
    });
  /** Logs in with `token` and returns the Cookie header to send. */
  const login = async (with_ = token) => {
    const response = await post('/inspect/login', { token: with_, next: '/inspect' });
    const setCookie = response.headers.get('set-cookie') ?? '';
    return { response, cookie: setCookie.split(';')[0] ?? '' };
  };
  const receipt = (overrides: Partial<DeliveryReceipt> = {}): DeliveryReceipt => ({
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    receivedAt: clock,
    ackMs: 1.5,
    outcome: 'accepted',
    status: 200,
    cohortId: 'c1',
    cohortName: 'Cohort one',
    inCohort: true,
    users: 2,
    computedTime: 1_700_000_000,
    receiver: 'host-1',
    ...overrides,
  });
  const batch = (overrides: Partial<CohortBatch> = {}): CohortBatch => ({
    cohortId: 'c1',
    cohortName: 'Cohort one',
    inCohort: true,
    computedTime: 100,
    messageId: `b-${Math.random().toString(36).slice(2)}`,
    users: [{ userId: 'u1' }, { userId: 'u2' }],
    ...overrides,
  });
  return {
    app,
    inspector,
    queue,
    store,
    deadLetters,
    deliveryLog,
    metrics,
    logLines,
    request,
    post,
    login,
    receipt,
    batch,
    advance: (ms: number) => {
      clock += ms;
    },
    now: () => clock,
  };
}

/** The text of a response, asserting its status first (the message names the body when it differs). */
export async function textOf(response: Response, status = 200): Promise<string> {
  const text = await response.text();
  if (response.status !== status)
    throw new Error(`expected ${status}, got ${response.status}: ${text.slice(0, 500)}`);
  return text;
}
