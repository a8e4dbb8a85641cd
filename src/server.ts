/** @module startReceiver(config, logger): parts + HTTP server + worker, and a bounded shutdown. */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { type Config, isLoopback } from './config.ts';
import { type ConnectionLimits, connectionServerOptions, guardConnections } from './http/connection-guard.ts';
import { createMetrics } from './metrics.ts';
import { createParts, type Parts } from './parts.ts';
import { createBatchParser } from './payload/parse-batch.ts';
import { createSinkDispatcher } from './sinks/dispatcher.ts';
import { createSinks } from './sinks/registry.ts';
import { createWorker } from './worker.ts';

export interface RunningReceiver {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  /** Stops accepting (503), drains the queue within SHUTDOWN_TIMEOUT_MS, closes everything. */
  shutdown(): Promise<{ drained: boolean }>;
}

export interface StartOptions {
  /**
   * Builds the parts in place of `createParts(config)`: for tests that wrap a real store or queue
   * to inject a fault (a slow or failing store) and still run the real server and worker.
   */
  createParts?: (config: Config, logger: Logger) => Promise<Parts>;
}

export async function startReceiver(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningReceiver> {
  if (config.AUTH_TOKENS.length === 0) logger.warn({ host: config.HOST }, authOffWarning(config.HOST));
  const sinks = config.ROLE === 'receiver' ? [] : createSinks({ config, logger });
  const parts = await (options.createParts ?? createParts)(config, logger);
  const metrics = createMetrics({
    queueStats: () => parts.queue.stats(),
    queueMaxUsers: config.QUEUE_MAX_USERS,
    processMetrics: true,
  });
  const app = createApp({
    ...parts,
    store: config.ROLE === 'receiver' ? undefined : parts.store,
    // A worker process serves the probes, /metrics and the read API, but takes no webhooks.
    receiveWebhooks: config.ROLE !== 'worker',
    parseBatch: createBatchParser({
      maxUsers: config.MAX_USERS_PER_BATCH,
      maxUserIdLength: config.MAX_USER_ID_LENGTH,
      maxProperties: config.MAX_PROPERTIES_PER_USER,
      maxPropertyDepth: config.MAX_PROPERTY_DEPTH,
    }),
    metrics,
    logger,
    webhookPath: config.WEBHOOK_PATH,
    maxBodyBytes: config.MAX_BODY_BYTES,
    auth: { tokens: config.AUTH_TOKENS, header: config.AUTH_HEADER },
  });
  const sinkDispatcher = createSinkDispatcher({
    sinks,
    deadLetters: parts.deadLetters,
    logger,
    metrics,
    maxAttempts: config.SINK_MAX_ATTEMPTS,
  });
  if (config.ROLE !== 'receiver') {
    parts.queue.consume(
      createWorker({
        ...parts,
        metrics,
        logger,
        maxAttempts: config.APPLY_MAX_ATTEMPTS,
        onChanges: (changes, batch) => sinkDispatcher.deliver(changes, { messageId: batch.messageId }),
      }),
    );
  }
  const limits = connectionLimits(config);
  const server = await listen(app.fetch, config, limits);
  guardConnections(server, limits, {
    logger,
    onClientError: (reason) => metrics.clientErrors.inc({ reason }),
  });
  const { port } = server.address() as AddressInfo;
  const host = urlHost(config.HOST);
  logger.info(
    { port, host: config.HOST, queue: config.QUEUE, store: config.STORE, role: config.ROLE },
    'listening',
  );

  return {
    url: `http://${host}:${port}`,
    async shutdown() {
      parts.queue.stopAccepting();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const before = await parts.queue.stats();
      logger.info({ batches: before.batches, users: before.users }, 'shutting down: draining the queue');
      const drained = await parts.queue.drain(config.SHUTDOWN_TIMEOUT_MS);
      if (!drained) {
        const left = await parts.queue.stats();
        logger.error(
          { batches: left.batches, users: left.users },
          'shutdown timeout: batches left undrained',
        );
      }
      server.closeAllConnections();
      await closed;
      await sinkDispatcher.close();
      await parts.close();
      logger.info({ drained }, 'stopped');
      return { drained };
    },
  };
}

/** Where this process can reach its own server: an any-address means loopback; IPv6 in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function authOffWarning(host: string): string {
  if (isLoopback(host)) {
    return `AUTH IS OFF: listening on ${host} only, so nothing outside this machine can reach it. To take webhooks from Amplitude, set AUTH_TOKENS: it then listens on every interface (0.0.0.0) unless HOST says otherwise.`;
  }
  return `AUTH IS OFF (AUTH_TOKENS=none) on HOST=${host}: anyone who can reach this port can change cohort membership. Set AUTH_TOKENS.`;
}

const connectionLimits = (config: Config): ConnectionLimits => ({
  headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
  requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
  maxConnections: config.MAX_CONNECTIONS,
});

function listen(
  fetch: Parameters<typeof serve>[0]['fetch'],
  config: Config,
  limits: ConnectionLimits,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch, port: config.PORT, hostname: config.HOST, serverOptions: connectionServerOptions(limits) },
      () => resolve(server as Server),
    );
    server.once('error', reject);
  });
}
