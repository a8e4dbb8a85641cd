/**
 * @module The inspector (docs/inspect.md) as an extension: it records what the core's events say
 * into a delivery log kept beside the queue, and serves its pages at INSPECT_PATH.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { ReceiverEvents } from '../core/events.ts';
import type { AppEnv } from '../core/http/app-env.ts';
import { errorAnswer } from '../core/http/error-answer.ts';
import { requestLog } from '../core/http/request-log.ts';
import type { ConfigIssue } from '../runtime/config-error.ts';
import { defineExtension, type Receiver } from '../runtime/extension.ts';
import { throttledWarning } from '../runtime/logger.ts';
import { integer, list, onOff } from '../runtime/settings.ts';
import { proxyEntryProblem } from './client.ts';
import { type DeliveryLog, defaultMaxDeliveries } from './deliveries/delivery-log.ts';
import { createMemoryDeliveryLog } from './deliveries/memory.ts';
import { processName } from './deliveries/process-name.ts';
import { createRedisDeliveryLog } from './deliveries/redis.ts';
import { createSqliteDeliveryLog } from './deliveries/sqlite.ts';
import { createInspector } from './inspector.tsx';
import { createMemorySeriesStore } from './series/memory.ts';
import { startSeriesRecorder } from './series/recorder.ts';
import { createRedisSeriesStore } from './series/redis.ts';
import type { SeriesStore } from './series/series.ts';
import { createSqliteSeriesStore } from './series/sqlite.ts';

const settings = z.object({
  // `off` also stops recording.
  INSPECT: onOff('on'),
  INSPECT_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be a path like "/inspect" (no trailing "/")')
    .default('/inspect'),
  // Kept in memory with QUEUE=memory: a million rows is already hundreds of MB.
  INSPECT_MAX_DELIVERIES: integer(defaultMaxDeliveries, 1, 1_000_000),
  // Days of per-minute series the charts read (docs/inspect.md#time-series).
  INSPECT_SERIES_DAYS: integer(7, 1, 90),
  // The page's login tokens, so Amplitude's secret (AUTH_TOKENS) and the operators' rotate apart.
  ADMIN_TOKENS: list,
  // Proxies whose X-Forwarded-Proto / -Host the inspector believes (docs/inspect.md#behind-a-tls-proxy-trust_proxy).
  TRUST_PROXY: list.superRefine((entries, context) => {
    for (const entry of entries) {
      const problem = proxyEntryProblem(entry);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    }
  }),
});

type Settings = z.output<typeof settings>;

export const inspector = defineExtension({
  name: 'inspect',
  settings,
  use(own) {
    if (!own.INSPECT) return {};
    return {
      check(config): ConfigIssue[] {
        // The webhook route would shadow the page, or the page the probes and the read API.
        const taken = [config.WEBHOOK_PATH, '/healthz', '/readyz', '/metrics', '/cohorts', '/users'];
        const path = own.INSPECT_PATH;
        const clash = taken.find(
          (other) => other === path || other.startsWith(`${path}/`) || path.startsWith(`${other}/`),
        );
        if (clash === undefined) return [];
        return [
          { variable: 'INSPECT_PATH', message: `must not overlap ${clash}, which the receiver serves` },
        ];
      },
      attach: (receiver: Receiver) => attachInspector(receiver, own),
    };
  },
});

function attachInspector(receiver: Receiver, own: Settings): void {
  const { logger, events, config } = receiver;
  const deliveryLog = openDeliveryLog(receiver, own);
  recordDeliveries(events, deliveryLog);
  const series = openSeries(receiver, own);
  const recorder = startSeriesRecorder({
    events,
    series,
    queue: receiver.queue,
    sinkControl: () => receiver.sinkControl,
    store: receiver.store,
    logger,
  });
  const pages = createInspector({
    deliveryLog,
    series,
    deadLetters: receiver.deadLetters,
    queue: receiver.queue,
    store: receiver.store,
    metrics: { registry: receiver.registry },
    logger,
    // Read at each use: an extension listed later may offer it.
    replay: (letter) => {
      if (receiver.replay === undefined) throw new Error('replaying is not possible in this receiver');
      return receiver.replay(letter);
    },
    // A getter, read at each use like `replay`: the sink-control extension may attach later.
    get sinkControl() {
      return receiver.sinkControl;
    },
    // Operators' tokens rotate apart from Amplitude's secret when ADMIN_TOKENS is set.
    tokens: own.ADMIN_TOKENS.length > 0 ? own.ADMIN_TOKENS : config.AUTH_TOKENS,
    trustedProxies: own.TRUST_PROXY,
    basePath: own.INSPECT_PATH,
    mode: receiver.mode,
  });
  // Its own app, with its own login (a session cookie) instead of the webhook's shared secret.
  const app = new Hono<AppEnv>();
  app.use(requestLog({ logger, events }));
  app.onError(errorAnswer({ logger }));
  app.notFound((c) => c.json({ error: 'not_found' }, 404));
  app.route(own.INSPECT_PATH, pages.app);
  receiver.mount(own.INSPECT_PATH, app);
  receiver.onClose(async () => {
    // Live streams end, so the server can close.
    pages.close();
    recorder.close();
    await Promise.all([deliveryLog.close(), series.close()]);
  });
}

/**
 * Deliveries are kept beside the queue: every process of a Redis deployment shows them all, and
 * QUEUE=sqlite keeps them across restarts. QUEUE=memory keeps them in memory, as it keeps its batches.
 */
function openDeliveryLog({ home, config, logger }: Receiver, own: Settings): DeliveryLog {
  const warn = throttledWarning(
    logger,
    'recording deliveries for the inspector failed; some are missing',
    60_000,
  );
  const options = {
    maxDeliveries: own.INSPECT_MAX_DELIVERIES,
    onError: (error: Error) => warn({ error: error.message }),
  };
  if (config.QUEUE === 'memory' || home.kind === 'memory') return createMemoryDeliveryLog(options);
  if (home.kind === 'sqlite') return createSqliteDeliveryLog(home.db, options);
  return createRedisDeliveryLog(home.redis, { ...options, keyPrefix: home.keyPrefix });
}

/** The per-minute series, where the delivery log is and for the same reasons. */
function openSeries({ home, config, logger }: Receiver, own: Settings): SeriesStore {
  const warn = throttledWarning(
    logger,
    'recording the inspector time series failed; some minutes are short',
    60_000,
  );
  const options = {
    retentionMinutes: own.INSPECT_SERIES_DAYS * 24 * 60,
    onError: (error: Error) => warn({ error: error.message }),
  };
  if (config.QUEUE === 'memory' || home.kind === 'memory') return createMemorySeriesStore(options);
  if (home.kind === 'sqlite') return createSqliteSeriesStore(home.db, options);
  return createRedisSeriesStore(home.redis, { ...options, keyPrefix: home.keyPrefix });
}

/** What the webhook answered, what applying did and what each sink did, from the core's events. */
export function recordDeliveries(events: ReceiverEvents, deliveryLog: DeliveryLog): void {
  const process = processName();
  events.on('webhook', (answered) => deliveryLog.recordReceipt({ ...answered, receiver: process }));
  events.on('applied', ({ messageId, appliedAt, lagMs, entered, left, updated, unchanged }) =>
    deliveryLog.recordApplied({
      messageId,
      appliedAt,
      lagMs,
      entered,
      left,
      updated,
      unchanged,
      worker: process,
      sinks: [],
    }),
  );
  events.on('sinkOutcome', ({ sink, messageId, delivered, failed, error }) => {
    if (messageId === undefined) return;
    deliveryLog.recordSinkResult(messageId, { name: sink, delivered, failed, ...(error ? { error } : {}) });
  });
}
