/** A receiver app wired to memory parts, driven in-process with `app.request` (no port). */
import { pino } from 'pino';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createApp } from '../../src/core/http/app.ts';
import { requireAuth } from '../../src/core/http/require-auth.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { Queue } from '../../src/core/queue/queue.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';

export interface HarnessOptions {
  tokens?: string[];
  authHeader?: string;
  maxBodyBytes?: number;
  maxUsers?: number;
  /** Start the worker (default true); false leaves batches waiting in the queue. */
  consume?: boolean;
  queue?: Queue;
  /** False builds a ROLE=worker app, which takes no webhooks (default true). */
  receiveWebhooks?: boolean;
}

export function createHarness(options: HarnessOptions = {}) {
  const logLines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const queue =
    options.queue ?? createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: options.maxUsers ?? 1_000_000 });
  const store = createMemoryStore();
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 100 });
  const events = createReceiverEvents();
  const metrics = createMetrics({ events, queueStats: () => queue.stats() });
  const app = createApp({
    queue,
    store,
    deadLetters,
    parseBatch: createBatchParser(),
    events,
    logger,
    webhook:
      options.receiveWebhooks === false
        ? undefined
        : { path: '/webhook', maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 },
    auth: { tokens: options.tokens ?? [], header: options.authHeader ?? 'authorization' },
  });
  // As the receiver serves it (src/runtime/receiver.ts), behind the same secret.
  app.get(
    '/metrics',
    requireAuth({ tokens: options.tokens ?? [], header: options.authHeader ?? 'authorization' }),
    async (c) => {
      c.header('Content-Type', metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    },
  );
  const decode = createQueuedBodyDecoder();
  /** Starts the worker (at once unless `consume: false`). */
  const startWorker = () =>
    queue.consume(
      createWorker({
        apply: storeApplier(store, decode),
        decode,
        deadLetters,
        events,
        logger,
        backoffMs: () => 1,
      }),
    );
  if (options.consume !== false) startWorker();
  const post = (body: unknown, init: { headers?: Record<string, string>; path?: string } = {}) =>
    app.request(init.path ?? '/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  /** Waits until every accepted batch has been applied. */
  const settle = async () => {
    if (!(await queue.drain(10_000))) throw new Error('queue did not drain');
  };
  return { app, queue, store, deadLetters, events, metrics, logLines, post, settle, startWorker };
}

let counter = 0;

/** A default-shape Amplitude batch; every call gets a fresh message_id unless one is given. */
export function amplitudeBatch(overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    cohort_name: 'Trial ending soon',
    cohort_id: 'q3k9xw1',
    in_cohort: true,
    computed_time: '1692206763',
    message_id: `test-message-${process.pid}-${counter}`,
    users: [{ user_id: 'user-1', user_properties: { plan: 'trial' } }, { user_id: 'user-2' }],
    ...overrides,
  };
}
