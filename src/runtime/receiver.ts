/**
 * @module Builds a receiver from a Config: the backends its QUEUE and STORE name, the core's app,
 * worker and sink dispatcher, the metrics, and every extension attached; then listens, and shuts
 * down within a bound.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createMemoryDeadLetters } from '../core/dead-letters/memory.ts';
import { createReceiverEvents } from '../core/events.ts';
import { createApp } from '../core/http/app.ts';
import { requireAuth } from '../core/http/require-auth.ts';
import { createQueuedBodyDecoder } from '../core/payload/decode-body.ts';
import { type BatchParser, createBatchParser } from '../core/payload/parse-batch.ts';
import { createMemoryQueue, SpillError } from '../core/queue/memory.ts';
import { createSinkDispatcher } from '../core/sinks/dispatcher.ts';
import type { MembershipStore } from '../core/store/store.ts';
import { createWorker, storeApplier } from '../core/worker.ts';
import type { Config, CoreConfig } from './config.ts';
import { lingerLimits } from './connection-guard.ts';
import {
  type HomeOffer,
  type OpenedHome,
  type OpenedQueue,
  type QueueOffer,
  queueIn,
  type Receiver,
  type StoreRecipe,
} from './extension.ts';
import { isLoopback } from './loopback.ts';
import { memoryStoreRecipe } from './memory-store.ts';
import { createMetrics } from './metrics.ts';
import { openRecipe } from './open-recipe.ts';
import { type Fetcher, listen, urlHost, withMounts } from './server.ts';
import { createSinks } from './sink-settings.ts';
import { weakTokens, weakTokenWarning } from './weak-tokens.ts';

/** The queue, store and dead letters one process works with, and how to close them. */
export interface Backends extends OpenedQueue {
  /** The store the worker applies through and the read API reads; absent in a ROLE=receiver process. */
  store: MembershipStore | undefined;
  storeRecipe: StoreRecipe;
}

/** Opens what QUEUE and STORE name (and, for QUEUE=memory, the first embedded home offered). */
export async function openBackends(config: Config, logger: Logger): Promise<Backends> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    const storeRecipe = recipeOf(config);
    const opened = await openQueue(config, logger, storeRecipe);
    closers.push(() => opened.close());
    const store = config.ROLE === 'receiver' ? undefined : await openRecipe(storeRecipe);
    if (store) closers.push(() => store.close());
    return { ...opened, store: store?.store, storeRecipe, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function recipeOf(config: Config): StoreRecipe {
  if (config.STORE === 'memory') return memoryStoreRecipe;
  const offer = config.extensions.find(({ capabilities }) => capabilities.stores?.[config.STORE]);
  const recipe = offer?.capabilities.stores?.[config.STORE];
  if (recipe === undefined) throw new Error(`no extension offers STORE=${config.STORE}`);
  return recipe(config);
}

/** The queue QUEUE names; for `memory`, the embedded home the first extension offers, if any. */
function queueOffer(config: Config): QueueOffer | HomeOffer | undefined {
  if (config.QUEUE === 'memory')
    return config.extensions.find((e) => e.capabilities.embeddedHome)?.capabilities.embeddedHome;
  return config.extensions.find((e) => e.capabilities.queues?.[config.QUEUE])?.capabilities.queues?.[
    config.QUEUE
  ];
}

/** Where the dead letters of this configuration are, for a person. */
export function lettersWhere(config: Config): string {
  return queueOffer(config)?.where(config) ?? "this process's memory";
}

async function openQueue(config: Config, logger: Logger, storeRecipe: StoreRecipe): Promise<OpenedQueue> {
  const context = { logger, config, storeRecipe };
  const offer = queueOffer(config);
  if (config.QUEUE !== 'memory') {
    if (offer === undefined || !('open' in offer))
      throw new Error(`no extension offers QUEUE=${config.QUEUE}`);
    return (offer as QueueOffer).open(context);
  }
  const home: OpenedHome = (offer as HomeOffer | undefined)?.open(context) ?? {
    deadLetters: createMemoryDeadLetters({ maxPerKind: config.QUARANTINE_MAX }),
    home: { kind: 'memory' },
    close: async () => {},
  };
  const queue = createMemoryQueue({
    dedupeTtlSeconds: config.DEDUPE_TTL_SECONDS,
    maxUsers: config.QUEUE_MAX_USERS,
    maxInFlight: storeRecipe.inFlight ?? 1,
    spill: home.spill,
  });
  return {
    ...queueIn(home, queue),
    // The home closes even when the queue could not keep what it held (its error goes on).
    async close() {
      try {
        await queue.close();
      } finally {
        await home.close();
      }
    },
  };
}

/** The webhook's parser with the configured limits (also how a replay judges a quarantined body). */
export function batchParserFor(config: CoreConfig): BatchParser {
  return createBatchParser({
    maxUsers: config.MAX_USERS_PER_BATCH,
    maxUserIdLength: config.MAX_USER_ID_LENGTH,
    maxProperties: config.MAX_PROPERTIES_PER_USER,
    maxPropertyDepth: config.MAX_PROPERTY_DEPTH,
  });
}

export interface RunningReceiver {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  /** Resolves once the apply path is warm (/readyz answers 200 from then on, if the backends do). */
  ready: Promise<void>;
  /** Stops accepting (503), drains the queue within SHUTDOWN_TIMEOUT_MS, then closes everything. */
  shutdown(): Promise<{ drained: boolean }>;
}

export interface StartOptions {
  /**
   * Opens the backends in place of `openBackends`: for tests that wrap a real store or queue to
   * inject a fault (a slow or failing store) and still run the real server and worker.
   */
  openBackends?: (config: Config, logger: Logger) => Promise<Backends>;
}

/** After the drain, closing sinks and backends gets this long, so a hung connection cannot hold the exit. */
const closeTimeoutMs = 5000;
/**
 * After a drain that ran out of time, closing gets only this long: what is left is already kept
 * (the queue closed first), and an apply still finishing would only be applied again next start.
 */
const closeAfterDeadlineMs = 1000;

/** Starts the receiver `config` describes: backends, extensions, HTTP server and worker. */
export async function startReceiver(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningReceiver> {
  const applies = config.ROLE !== 'receiver';
  // Built first: a sink that cannot be built stops start-up before anything opens.
  const sinks = applies ? createSinks(config.SINKS, logger) : [];
  const backends = await (options.openBackends ?? openBackends)(config, logger);
  const closers: (() => void | Promise<void>)[] = [];
  try {
    warnAtStart(config, logger);
    await logResumed(config, backends, logger);
    const { queue, store, deadLetters } = backends;
    const events = createReceiverEvents();
    const metrics = createMetrics({
      events,
      queueStats: () => queue.stats(),
      sinks: sinks.map((sink) => sink.name),
      processMetrics: true,
    });
    const parseBatch = batchParserFor(config);
    let applyPathWarm = !applies;
    const authOptions = { tokens: config.AUTH_TOKENS, header: config.AUTH_HEADER };
    const app = createApp({
      queue,
      deadLetters,
      parseBatch,
      events,
      logger,
      auth: authOptions,
      // A worker process serves the probes, /metrics and the read API, but takes no webhooks.
      webhook:
        config.ROLE === 'worker'
          ? undefined
          : { path: config.WEBHOOK_PATH, maxBodyBytes: config.MAX_BODY_BYTES },
      store,
      applyPathWarm: () => applyPathWarm,
    });
    const auth = requireAuth(authOptions);
    app.get('/metrics', auth, async (c) => {
      c.header('Content-Type', metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    });
    const decode = createQueuedBodyDecoder();
    const sinkRoutes = new Map(config.SINKS.map(({ name, route }) => [name, route] as const));
    const dispatcher = createSinkDispatcher({
      sinks,
      routes: sinkRoutes,
      deadLetters,
      logger,
      events,
      maxAttempts: config.SINK_MAX_ATTEMPTS,
    });
    const mounts: { path: string; app: Fetcher }[] = [];
    const receiver: Receiver = {
      config,
      logger,
      events,
      registry: metrics.registry,
      app,
      auth,
      mount: (path, mounted) => mounts.push({ path, app: mounted }),
      queue,
      store,
      storeRecipe: backends.storeRecipe,
      deadLetters,
      home: backends.home,
      sinks,
      sinkRoutes,
      dispatcher,
      mode: { queue: config.QUEUE, store: config.STORE, role: config.ROLE },
      applier: store ? storeApplier(store, decode) : async () => Promise.reject(new Error('no store')),
      onClose: (close) => closers.push(close),
    };
    for (const { capabilities } of config.extensions) await capabilities.attach?.(receiver);
    // Started before the server listens, so its cost overlaps the rest of the start.
    const warming = applies ? warmUp(receiver) : Promise.resolve(0);
    void warming.then(() => {
      applyPathWarm = true;
    });

    // Aborted at shutdown: batches waiting for a store that is away stay in the queue.
    const stopWaiting = new AbortController();
    if (applies) {
      queue.consume(
        createWorker({
          apply: receiver.applier,
          decode,
          deadLetters,
          events,
          logger,
          maxAttempts: config.APPLY_MAX_ATTEMPTS,
          stopWaiting: stopWaiting.signal,
          // Without a sink, the changes are never built (an apply thread sends only their columns).
          ...(sinks.length > 0 && {
            onChanges: (changes, messageId) => dispatcher.dispatch(changes, messageId),
          }),
        }),
      );
    }
    const server = await listen(withMounts(app, mounts), {
      port: config.PORT,
      host: config.HOST,
      limits: {
        headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
        requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT_MS,
        maxConnections: config.MAX_CONNECTIONS,
        firstByteTimeoutMs: config.FIRST_BYTE_TIMEOUT_MS,
        ...lingerLimits(config.MAX_BODY_BYTES),
      },
      logger,
      onClientError: (reason) => metrics.clientErrors.inc({ reason }),
    });
    const { port } = server.address() as AddressInfo;
    logger.info({ port, host: config.HOST, ...receiver.mode, ready: applyPathWarm }, 'listening');
    const ready = warming.then((warmUpMs) => logger.info({ warm_up_ms: warmUpMs }, 'ready'));

    let stopping: Promise<{ drained: boolean }> | undefined;
    return {
      url: `http://${urlHost(config.HOST)}:${port}`,
      ready,
      // Once: a second call (a crash during the first) gets the first's outcome, not a fresh "drained".
      shutdown: () => {
        stopping ??= shutDown();
        return stopping;
      },
    };

    async function shutDown(): Promise<{ drained: boolean }> {
      queue.stopAccepting();
      stopWaiting.abort();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      // With its backend down the queue cannot count: the shutdown goes on without the figures.
      const counted = () =>
        queue.stats().then(
          ({ batches, users }) => ({ batches, users }),
          () => ({}),
        );
      logger.info(await counted(), 'shutting down: draining the queue');
      const drained = await queue.drain(config.SHUTDOWN_TIMEOUT_MS);
      // At the deadline the queue closes first: it hands over nothing more and lets nothing go, so
      // what it holds now is exactly what the next start resumes, whatever finishes meanwhile.
      const kept = drained || (await closeStep(logger, 'the queue', () => queue.close()));
      if (!drained) {
        const where = kept ? { kept_in: lettersWhere(config) } : {};
        logger.error({ ...(await counted()), ...where }, 'shutdown timeout: batches left undrained');
      }
      server.closeAllConnections();
      const closingMs = drained ? closeTimeoutMs : closeAfterDeadlineMs;
      const steps = [kept];
      const closedInTime = await withinDeadline(
        (async () => {
          for (const close of closers.reverse()) steps.push(await closeStep(logger, 'an extension', close));
          await closed;
          steps.push(await closeStep(logger, 'the sinks', () => dispatcher.close()));
          steps.push(await closeStep(logger, 'the backends', () => backends.close()));
          for (const { capabilities } of config.extensions)
            steps.push(await closeStep(logger, 'an extension', async () => capabilities.close?.()));
        })(),
        closingMs,
      );
      if (!closedInTime)
        logger.error({ timeout_ms: closingMs }, 'shutdown: closing sinks and backends timed out');
      const closedCleanly = closedInTime && steps.every(Boolean);
      logger.info({ drained, closed: closedCleanly }, 'stopped');
      return { drained: drained && closedCleanly };
    }
  } catch (error) {
    for (const close of closers.reverse()) await close();
    await backends.close();
    throw error;
  }
}

/**
 * Pays the apply path's first-use costs; resolves with the ms it took. A warm-up that fails (the
 * store is down) still ends it: /readyz then names the store, and the worker retries as always.
 */
async function warmUp(receiver: Receiver): Promise<number> {
  const started = performance.now();
  try {
    await receiver.warmUp?.();
  } catch (error) {
    receiver.logger.warn({ err: error }, 'the apply path could not warm up; the first batch will pay for it');
  }
  return Math.round(performance.now() - started);
}

/**
 * Runs one step of a shutdown; a failure is logged and the shutdown goes on (false). A batch the
 * memory queue could not keep (SpillError) is named with where the rest went.
 */
async function closeStep(logger: Logger, what: string, close: () => unknown): Promise<boolean> {
  try {
    await close();
    return true;
  } catch (error) {
    if (error instanceof SpillError)
      logger.error(
        { err: error, ...error.details },
        'shutdown: could not keep every batch left in the inbox file',
      );
    else logger.error({ err: error }, `shutdown: closing ${what} failed`);
    return false;
  }
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

/** What the queue kept from before this start (a shutdown's leftovers, a crash's), said once. */
async function logResumed(config: Config, { queue }: Backends, logger: Logger): Promise<void> {
  const stats = await queue.stats().catch(() => undefined);
  if (stats === undefined || stats.batches === 0) return;
  logger.info(
    {
      batches: stats.batches,
      users: stats.users,
      oldest_age_seconds: Math.round(stats.oldestAgeSeconds),
      kept_in: lettersWhere(config),
    },
    'resuming batches accepted before this start',
  );
}

function warnAtStart(config: Config, logger: Logger): void {
  if (config.AUTH_TOKENS.length === 0) logger.warn({ host: config.HOST }, authOffWarning(config.HOST));
  for (const weak of weakTokens(config.AUTH_TOKENS))
    logger.warn({ host: config.HOST, token_index: weak.index }, weakTokenWarning(weak, config.HOST));
  // Allowed (the ack-path benchmarks run so), but an operator who meant a receiver beside workers must hear it.
  if (config.ROLE === 'receiver' && config.QUEUE === 'memory') logger.warn(receiverOnlyMemoryWarning);
}

const receiverOnlyMemoryWarning =
  'ROLE=receiver with QUEUE=memory: nothing in this process applies what it accepts. Accepted batches wait in its memory (up to QUEUE_MAX_USERS, then 503 queue_full) and a crash loses them; a shutdown keeps them in the inbox file (SQLITE_INBOX_PATH), applied when a ROLE=all process starts on it. For a receiver beside workers, set QUEUE=sqlite or QUEUE=redis.';

function authOffWarning(host: string): string {
  if (isLoopback(host)) {
    return `AUTH IS OFF: listening on ${host} only, so nothing outside this machine can reach it. To take webhooks from Amplitude, set AUTH_TOKENS to a long random secret (openssl rand -hex 32): it then listens on every interface (0.0.0.0) unless HOST says otherwise.`;
  }
  return `AUTH IS OFF (AUTH_TOKENS=none) on HOST=${host}: anyone who can reach this port can change cohort membership. Set AUTH_TOKENS.`;
}
