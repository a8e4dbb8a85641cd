/**
 * @module The smallest receiver: the core alone (src/core/), wired by hand. Batches wait in memory,
 * membership lives in memory and every change is logged. It answers the same HTTP API as the full
 * receiver; what it lacks is durability (a restart forgets everything) and the extras.
 *
 *   PORT=8080 HOST=127.0.0.1 AUTH_TOKENS=secret npm run example:minimal
 */
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createApp } from '../../src/core/http/app.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import { createLogSink } from '../../src/core/sinks/log.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const tokens = (process.env.AUTH_TOKENS ?? '')
  .split(',')
  .map((token) => token.trim())
  .filter(Boolean);

const logger = pino();
if (tokens.length === 0) logger.warn('AUTH IS OFF: set AUTH_TOKENS before Amplitude can reach this');

// What the core needs: somewhere to queue, to keep membership, to set aside, and to tell.
const events = createReceiverEvents();
const queue = createMemoryQueue({ dedupeTtlSeconds: 7 * 24 * 3600, maxUsers: 5_000_000 });
const store = createMemoryStore();
const deadLetters = createMemoryDeadLetters({ maxPerKind: 1000 });

// The webhook, the read API and the probes.
const app = createApp({
  queue,
  store,
  deadLetters,
  events,
  logger,
  parseBatch: createBatchParser(),
  auth: { tokens, header: 'authorization' },
  webhook: { path: '/webhook', maxBodyBytes: 32 * 1024 * 1024 },
});

// Apply each batch as a last-writer-wins register, then send its changes to the sinks.
const sinks = createSinkDispatcher({ sinks: [createLogSink(logger)], deadLetters, logger, events });
const decode = createQueuedBodyDecoder();
queue.consume(
  createWorker({
    apply: storeApplier(store, decode),
    decode,
    deadLetters,
    events,
    logger,
    onChanges: (changes, messageId) => sinks.dispatch(changes, messageId),
  }),
);

const server = serve({ fetch: app.fetch, port, hostname: host }, (address) =>
  logger.info({ port: address.port, host }, 'listening'),
);

// Stop taking webhooks (503 shutting_down), apply what was accepted, then exit.
async function shutdown() {
  queue.stopAccepting();
  server.close();
  const drained = await queue.drain(25_000);
  await sinks.close();
  await queue.close();
  logger.info({ drained }, 'stopped');
  process.exit(drained ? 0 : 1);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
