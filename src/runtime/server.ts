/** @module startServer(deps, options): HTTP server + worker over the given backends, and a bounded shutdown. */

import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { DeadLetters } from '../core/dead-letters/dead-letters.ts';
import { createApp } from '../core/http/app.ts';
import type { BatchParser } from '../core/payload/parse-batch.ts';
import type { Queue } from '../core/queue/queue.ts';
import { createSinkDispatcher } from '../core/sinks/dispatcher.ts';
import type { Sink } from '../core/sinks/sink.ts';
import type { MembershipStore } from '../core/store/store.ts';
import { createWorker } from '../core/worker.ts';
import { requestListener } from '../http/request-listener.ts';
import { webhookListener } from '../http/webhook-listener.ts';
import { createNoDeliveryLog, type DeliveryLog } from '../inspect/deliveries/delivery-log.ts';
import { createInspector } from '../inspect/inspector.tsx';
import { replayLetter } from '../replay/replay-letter.ts';
import { type ConnectionLimits, connectionServerOptions, guardConnections } from './connection-guard.ts';
import { isLoopback } from './loopback.ts';
import { createMetrics } from './metrics.ts';

export interface RunningReceiver {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  /** Stops accepting (503), drains the queue within `shutdownTimeoutMs`, then closes everything. */
  shutdown(): Promise<{ drained: boolean }>;
}

export interface ServerDeps {
  queue: Queue;
  store: MembershipStore;
  deadLetters: DeadLetters;
  /** Where the worker sends effective changes; empty for none. */
  sinks: Sink[];
  parseBatch: BatchParser;
  logger: Logger;
  /** Receipts, apply and sink results for the inspector (src/deliveries/). @default none */
  deliveryLog?: DeliveryLog | undefined;
  /** How often the apply thread stopped unasked; absent without one. */
  applyThreadStops?: (() => number) | undefined;
  /** Closes the backends (queue, store, dead letters, files, connections). */
  close(): Promise<void>;
}

export interface ServerOptions {
  port: number;
  host: string;
  /** `receiver`: webhooks only; `worker`: applies (and serves reads) only; `all`: both. */
  role: 'all' | 'receiver' | 'worker';
  /** For the start-up log line. */
  mode: { queue: string; store: string };
  webhookPath: string;
  maxBodyBytes: number;
  auth: { tokens: string[]; header: string };
  limits: ConnectionLimits;
  queueMaxUsers: number;
  applyMaxAttempts: number;
  sinkMaxAttempts: number;
  shutdownTimeoutMs: number;
  /** The inspector page (docs/inspect.md); absent with INSPECT=off. */
  inspect?: InspectOptions | undefined;
}

export interface InspectOptions {
  /** INSPECT_PATH */
  path: string;
  /** ADMIN_TOKENS, else AUTH_TOKENS; empty: loopback clients only. */
  tokens: string[];
  /** TRUST_PROXY */
  trustedProxies: string[];
}

/** After the drain, closing sinks and backends gets this long, so a hung connection cannot hold the exit. */
const closeTimeoutMs = 5000;

export async function startServer(deps: ServerDeps, options: ServerOptions): Promise<RunningReceiver> {
  const { queue, logger } = deps;
  const applies = options.role !== 'receiver';
  if (options.auth.tokens.length === 0) logger.warn({ host: options.host }, authOffWarning(options.host));
  // Allowed (the ack-path benchmarks run so), but an operator who meant a receiver beside workers must hear it.
  if (!applies && options.mode.queue === 'memory') logger.warn(receiverOnlyMemoryWarning);
  const metrics = createMetrics({
    queueStats: () => queue.stats(),
    queueMaxUsers: options.queueMaxUsers,
    applyThreadStops: deps.applyThreadStops,
    processMetrics: true,
  });
  const { deliveryLog } = deps;
  const inspector =
    options.inspect &&
    createInspector({
      deliveryLog: deliveryLog ?? createNoDeliveryLog(),
      deadLetters: deps.deadLetters,
      queue,
      store: applies ? deps.store : undefined,
      metrics,
      logger,
      // As `npm run dlq -- replay` does, with this process's queue, store and sinks.
      replay: (letter) =>
        replayLetter(letter, {
          queue,
          store: deps.store,
          parseBatch: deps.parseBatch,
          sinkReplay: () => ({ sinks: deps.sinks, logger }),
        }),
      tokens: options.inspect.tokens,
      trustedProxies: options.inspect.trustedProxies,
      basePath: options.inspect.path,
      mode: { ...options.mode, role: options.role },
    });
  const appDeps = {
    queue,
    deadLetters: deps.deadLetters,
    store: applies ? deps.store : undefined,
    // A worker process serves the probes, /metrics and the read API, but takes no webhooks.
    receiveWebhooks: options.role !== 'worker',
    parseBatch: deps.parseBatch,
    metrics,
    logger,
    webhookPath: options.webhookPath,
    maxBodyBytes: options.maxBodyBytes,
    auth: options.auth,
    deliveryLog,
    inspector: inspector && options.inspect && { path: options.inspect.path, app: inspector.app },
  };
  const app = createApp(appDeps);
  const listener = requestListener({
    fetch: app.fetch,
    hostname: options.host,
    // The webhook skips Hono's Request, Response and dispatch (src/http/webhook-listener.ts).
    webhook: appDeps.receiveWebhooks
      ? { path: options.webhookPath, serve: webhookListener(appDeps) }
      : undefined,
  });
  const sinkDispatcher = createSinkDispatcher({
    sinks: deps.sinks,
    deadLetters: deps.deadLetters,
    logger,
    metrics,
    maxAttempts: options.sinkMaxAttempts,
    deliveryLog,
  });
  if (applies) {
    queue.consume(
      createWorker({
        store: deps.store,
        deadLetters: deps.deadLetters,
        metrics,
        logger,
        maxAttempts: options.applyMaxAttempts,
        deliveryLog,
        onChanges: (changes, batch) => sinkDispatcher.deliver(changes, { messageId: batch.messageId }),
      }),
    );
  }
  const server = await listen(listener, options);
  guardConnections(server, options.limits, {
    logger,
    onClientError: (reason) => metrics.clientErrors.inc({ reason }),
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: options.host, ...options.mode, role: options.role }, 'listening');

  return {
    url: `http://${urlHost(options.host)}:${port}`,
    async shutdown() {
      queue.stopAccepting();
      // Live streams end, so the server can close.
      inspector?.close();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      // With its backend down the queue cannot count: the shutdown goes on without the figures.
      const counted = () =>
        queue.stats().then(
          ({ batches, users }) => ({ batches, users }),
          () => ({}),
        );
      logger.info(await counted(), 'shutting down: draining the queue');
      const drained = await queue.drain(options.shutdownTimeoutMs);
      if (!drained) logger.error(await counted(), 'shutdown timeout: batches left undrained');
      server.closeAllConnections();
      const closedInTime = await withinDeadline(
        (async () => {
          await closed;
          await sinkDispatcher.close();
          await deps.close();
        })(),
        closeTimeoutMs,
      );
      if (!closedInTime)
        logger.error({ timeout_ms: closeTimeoutMs }, 'shutdown: closing sinks and backends timed out');
      logger.info({ drained, closed: closedInTime }, 'stopped');
      return { drained: drained && closedInTime };
    },
  };
}

/** True when `work` settles within `ms` (a rejection is logged by the caller's logger, not here). */
async function withinDeadline(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where this process can reach its own server: an any-address means loopback; IPv6 in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

const receiverOnlyMemoryWarning =
  'ROLE=receiver with QUEUE=memory: nothing in this process applies what it accepts. Accepted batches wait in its memory (up to QUEUE_MAX_USERS, then 503 queue_full) and a crash loses them; a shutdown keeps them in SQLITE_PATH, applied when a ROLE=all process starts on that file. For a receiver beside workers, set QUEUE=sqlite or QUEUE=redis.';

function authOffWarning(host: string): string {
  if (isLoopback(host)) {
    return `AUTH IS OFF: listening on ${host} only, so nothing outside this machine can reach it. To take webhooks from Amplitude, set AUTH_TOKENS: it then listens on every interface (0.0.0.0) unless HOST says otherwise.`;
  }
  return `AUTH IS OFF (AUTH_TOKENS=none) on HOST=${host}: anyone who can reach this port can change cohort membership. Set AUTH_TOKENS.`;
}

function listen(listener: RequestListener, options: ServerOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(connectionServerOptions(options.limits), listener);
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
