/**
 * @module How a backend or an extra plugs into the receiver: its own settings, the queues and
 * stores it offers by name, and what it does once the receiver's parts exist. `src/compose.ts`
 * lists the extensions; deleting a folder and its line there leaves a receiver without it.
 */
import type { Database } from 'better-sqlite3';
import type { Hono, MiddlewareHandler } from 'hono';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { DeadLetters, Letter } from '../core/dead-letters/dead-letters.ts';
import type { ReceiverEvents } from '../core/events.ts';
import type { AppEnv } from '../core/http/app-env.ts';
import type { MemorySpill } from '../core/queue/memory.ts';
import type { Queue } from '../core/queue/queue.ts';
import type { SinkControl } from '../core/sinks/control.ts';
import type { SinkDispatcher } from '../core/sinks/dispatcher.ts';
import type { SinkRoute } from '../core/sinks/route.ts';
import type { Sink } from '../core/sinks/sink.ts';
import type { MembershipStore } from '../core/store/store.ts';
import type { Applier } from '../core/worker.ts';
import type { CoreConfig } from './config.ts';
import type { ConfigIssue } from './config-error.ts';
import type { Fetcher } from './server.ts';

export interface Extension<Settings = unknown> {
  /** Names it in start-up errors and logs. */
  readonly name: string;
  /** Its environment variables, checked at start-up with the receiver's own. */
  readonly settings?: z.ZodType<Settings>;
  /** What it offers, given its checked settings. Opens nothing: that waits for the receiver to start. */
  use(settings: Settings): Capabilities;
}

/** Only gives `use` its settings' type. */
export function defineExtension<Settings>(extension: Extension<Settings>): Extension<Settings> {
  return extension;
}

export interface Capabilities {
  /** Problems only the whole configuration shows, one line each at start-up. */
  check?(config: CoreConfig): ConfigIssue[];
  /** Queues by the QUEUE value that picks them. */
  queues?: Record<string, QueueOffer>;
  /** Stores by the STORE value that picks them. */
  stores?: Record<string, (config: CoreConfig) => StoreRecipe>;
  /**
   * Where the memory queue keeps what a shutdown could not apply, and where dead letters and the
   * inspector's records live beside it. The first extension offering one is used.
   */
  embeddedHome?: HomeOffer;
  /** Joins the running receiver: routes, event listeners, an applier. Called in list order. */
  attach?(receiver: Receiver): void | Promise<void>;
  /** Releases what `use` opened, after everything else closed. */
  close?(): void | Promise<void>;
}

export interface OpenContext {
  logger: Logger;
  /** DEDUPE_TTL_SECONDS, QUEUE_MAX_USERS, QUARANTINE_MAX… */
  config: CoreConfig;
  /** The store the queue hands batches to: how many it may hand over at once. */
  storeRecipe: StoreRecipe;
}

/**
 * Where a backend keeps its state, for extras that keep records beside the queue (the inspector's
 * delivery log): one process's memory, a SQLite file, or a Redis every process of a deployment shares.
 */
export type Home =
  | { kind: 'memory' }
  | { kind: 'sqlite'; db: Database }
  | { kind: 'redis'; redis: Redis; keyPrefix: string };

export interface HomeOffer {
  /** Where its dead letters are, for a person: `SQLite ./data/cohorts.db`, `Redis redis://… (KEY_PREFIX=…)`. */
  where(config: CoreConfig): string;
  open(context: OpenContext): OpenedHome;
}

export interface QueueOffer {
  /** As {@link HomeOffer.where}. */
  where(config: CoreConfig): string;
  open(context: OpenContext): Promise<OpenedQueue>;
}

export interface OpenedHome {
  deadLetters: DeadLetters;
  spill?: MemorySpill | undefined;
  home: Home;
  close(): Promise<void>;
}

export interface OpenedQueue extends OpenedHome {
  queue: Queue;
}

/** `queue` kept in `home`: closing closes the queue first, then what holds it. */
export function queueIn(home: OpenedHome, queue: Queue): OpenedQueue {
  return {
    ...home,
    queue,
    async close() {
      await queue.close();
      await home.close();
    },
  };
}

/**
 * How to open a store, as plain data, so the apply thread can open one of its own: the module
 * that exports `openStore(options)`, and the options.
 */
export interface StoreRecipe {
  module: string;
  options: unknown;
  /** False for a store whose state lives in this process (memory): no other thread can open it. */
  threadable: boolean;
  /** Batches the queue may hand over at once, for a store that groups commits. @default 1 */
  inFlight?: number;
  /**
   * For a queue that reads its batches from disk: users it may hand over at once, whatever the
   * batches' sizes (then up to 4,096 batches). A backlog then fills the store's large groups.
   */
  inFlightUsers?: number;
}

/** What a store module exports for a {@link StoreRecipe}. */
export type OpenStore = (options: never) => OpenedStore | Promise<OpenedStore>;

export interface OpenedStore {
  store: MembershipStore;
  close(): Promise<void>;
}

/** What replaying a dead letter did. */
export type ReplayOutcome =
  /** Back in the durable queue; the workers apply it. */
  | { status: 'requeued' }
  /** Applied to the store directly (QUEUE=memory), with this many effective changes. */
  | { status: 'applied'; changes: number }
  /** A rejected body that now parses, accepted (or a duplicate of what Amplitude resent since). */
  | { status: 'accepted' | 'duplicate'; messageId: string }
  /** A sink letter's changes, sent again. */
  | { status: 'resent'; sink: string; changes: number }
  /** Not replayed; the letter is kept. */
  | { status: 'still_rejected' | 'not_replayable'; detail: string };

/** The parts of a receiver, as extensions see them when they attach. */
export interface Receiver {
  config: CoreConfig;
  logger: Logger;
  events: ReceiverEvents;
  /** The Prometheus registry `/metrics` exports: extensions add their own series. */
  registry: Registry;
  /** The main app: the webhook, the probes, the read API. */
  app: Hono<AppEnv>;
  /** The webhook's auth, for routes that take the same secret. */
  auth: MiddlewareHandler<AppEnv>;
  /** Serves a separate app under `path`, chosen before any routing (the main app's middleware does not run). */
  mount(path: string, app: Fetcher): void;
  queue: Queue;
  /** Absent in a ROLE=receiver process. */
  store: MembershipStore | undefined;
  storeRecipe: StoreRecipe;
  deadLetters: DeadLetters;
  home: Home;
  sinks: readonly Sink[];
  /** What each sink `SINKS` names takes, by name; in a ROLE=receiver process too, where `sinks` is empty. */
  sinkRoutes: ReadonlyMap<string, SinkRoute>;
  /** Sends changes to the sinks; an extension may give it a gate (see SinkGate). */
  dispatcher: SinkDispatcher;
  mode: { queue: string; store: string; role: string };
  /** How the worker applies a queued batch; an extension may replace it before the worker starts. */
  applier: Applier;
  /**
   * Pays the applier's first-use costs before the first batch does (a thread to start, modules to
   * load on it, a store to open there): /readyz answers 503 until it resolves.
   */
  warmUp?: (() => Promise<void>) | undefined;
  /** Pause, resume, backfill and the mass-exit guard's holds, when an extension offers them. */
  sinkControl?: SinkControl | undefined;
  /** Replays a dead letter, when an extension offers it. */
  replay?: ((letter: Letter) => Promise<ReplayOutcome>) | undefined;
  /** Runs at shutdown, after the server closed and before the backends do. */
  onClose(close: () => void | Promise<void>): void;
}
