/** @module startReceiver(config, logger): parts + HTTP server + worker, and a bounded shutdown. */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { createMetrics } from './metrics.ts';
import { createParts } from './parts.ts';
import { createBatchParser } from './payload/parse-batch.ts';
import { createWorker } from './worker.ts';

export interface RunningReceiver {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  /** Stops accepting (503), drains the queue within SHUTDOWN_TIMEOUT_MS, closes everything. */
  shutdown(): Promise<{ drained: boolean }>;
}

export async function startReceiver(config: Config, logger: Logger): Promise<RunningReceiver> {
  if (config.AUTH_TOKENS.length === 0) {
    logger.warn('AUTH IS OFF: anyone who can reach this port can change cohort membership. Set AUTH_TOKENS.');
  }
  const parts = await createParts(config);
  const metrics = createMetrics({ queueStats: () => parts.queue.stats() });
  const app = createApp({
    ...parts,
    store: config.ROLE === 'receiver' ? undefined : parts.store,
    parseBatch: createBatchParser({
      maxUsers: config.MAX_USERS_PER_BATCH,
      maxUserIdLength: config.MAX_USER_ID_LENGTH,
      maxProperties: config.MAX_PROPERTIES_PER_USER,
    }),
    metrics,
    logger,
    webhookPath: config.WEBHOOK_PATH,
    maxBodyBytes: config.MAX_BODY_BYTES,
    auth: { tokens: config.AUTH_TOKENS, header: config.AUTH_HEADER },
  });
  if (config.ROLE !== 'receiver') {
    parts.queue.consume(createWorker({ ...parts, metrics, logger, maxAttempts: config.APPLY_MAX_ATTEMPTS }));
  }
  const server = await listen(app.fetch, config);
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
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
      await parts.close();
      logger.info({ drained }, 'stopped');
      return { drained };
    },
  };
}

function listen(fetch: Parameters<typeof serve>[0]['fetch'], config: Config): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port: config.PORT, hostname: config.HOST }, () =>
      resolve(server as Server),
    );
    server.once('error', reject);
  });
}
