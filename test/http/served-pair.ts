/**
 * Two real receivers on 127.0.0.1 over memory parts of their own: one serving the webhook through
 * Hono and @hono/node-server alone (as before src/http/webhook-listener.ts), one with the listener
 * the server uses (requestListener: the webhook straight from node:http). The tests send both the
 * same bytes and compare everything a sender, an operator or the inspector can see.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { pino } from 'pino';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createApp } from '../../src/core/http/app.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { Queue } from '../../src/core/queue/queue.ts';
import { requestListener } from '../../src/http/request-listener.ts';
import { webhookListener } from '../../src/http/webhook-listener.ts';
import { createMemoryDeliveryLog } from '../../src/inspect/deliveries/memory.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';

export interface PairOptions {
  tokens?: string[];
  maxBodyBytes?: number;
  maxUsers?: number;
  /** Wraps each side's queue (a failing accept). */
  wrapQueue?: (queue: Queue) => Queue;
}

export interface ServedReceiver {
  port: number;
  queue: Queue;
  logLines: Record<string, unknown>[];
  /** The request log lines and errors so far, without what differs from run to run. */
  lines(): Record<string, unknown>[];
  /** The receipts recorded so far, oldest first, without times, ids and the process name. */
  receipts(): Promise<Record<string, unknown>[]>;
  /** The quarantined bodies and reasons, oldest first. */
  letters(): Promise<{ reason: string; body: string }[]>;
  /** Every series but the timings and the queue's oldest age, whose values are times. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startPair(options: PairOptions = {}) {
  const hono = await start(options, false);
  const direct = await start(options, true);
  return {
    hono,
    direct,
    async close() {
      await hono.close();
      await direct.close();
    },
  };
}

async function start(options: PairOptions, direct: boolean): Promise<ServedReceiver> {
  const logLines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const memoryQueue = createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: options.maxUsers ?? 1_000_000 });
  const queue = options.wrapQueue ? options.wrapQueue(memoryQueue) : memoryQueue;
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 100 });
  const deliveryLog = createMemoryDeliveryLog();
  const metrics = createMetrics({ queueStats: () => queue.stats() });
  const deps = {
    queue,
    deadLetters,
    parseBatch: createBatchParser(),
    metrics,
    logger,
    webhookPath: '/webhook',
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    auth: { tokens: options.tokens ?? [], header: 'authorization' },
    deliveryLog,
  };
  const app = createApp(deps);
  const listener = direct
    ? requestListener({
        fetch: app.fetch,
        hostname: '127.0.0.1',
        webhook: { path: '/webhook', serve: webhookListener(deps) },
      })
    : getRequestListener(app.fetch, { hostname: '127.0.0.1' });
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    queue,
    logLines,
    lines: () =>
      logLines.map(({ time: _time, ms: _ms, pid: _pid, hostname: _hostname, err, ...rest }) =>
        err === undefined ? rest : { ...rest, err: (err as { message: string }).message },
      ),
    async receipts() {
      await deliveryLog.flush();
      const { deliveries } = await deliveryLog.list({ limit: 1000 });
      return deliveries
        .reverse()
        .map(({ id: _id, receivedAt: _at, ackMs: _ackMs, receiver: _receiver, quarantineId, ...rest }) =>
          // A letter's id is random: whether there is one is what both sides can share.
          quarantineId === undefined ? rest : { ...rest, quarantined: true },
        );
    },
    async letters() {
      const letters = await deadLetters.list({ kind: 'rejected' });
      return letters.reverse().map((letter) => ({ reason: letter.reason, body: letter.body }));
    },
    async metrics() {
      const text = await metrics.registry.metrics();
      return text
        .split('\n')
        .filter(
          (line) => !/_(ack_duration|apply_lag)_seconds_(bucket|sum)|_queue_oldest_age_seconds /.test(line),
        )
        .join('\n');
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A response's bytes with its Date header blanked: the one thing two servers cannot share. */
export function withoutDate(response: string): string {
  return response.replace(/\r\nDate: [^\r]*/, '\r\nDate: -');
}
