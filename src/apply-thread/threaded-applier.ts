/**
 * @module An applier whose work runs on a worker thread (thread.ts): a batch's parse and transaction
 * never hold the event loop that answers webhooks, and both cores work while a sync is applied
 * (docs/design.md#the-apply-thread). Only the body's text crosses; the changes come back as columns.
 */
import { Worker } from 'node:worker_threads';
import { oneTurnEach } from '../core/event-loop-turns.ts';
import type { MembershipChange } from '../core/store/store.ts';
import type { Applier } from '../core/worker.ts';
import type { StoreRecipe } from '../runtime/extension.ts';
import { countColumns, fromColumns } from './change-columns.ts';
import { type AppliedColumns, fromPlainError, type ThreadCall, type ThreadReply } from './protocol.ts';

export interface ThreadedApplierOptions {
  /** Hears why the thread stopped unasked. The calls it held fail (the worker retries them); the next call starts a new thread. */
  onThreadStopped?: (reason: string) => void;
  /** How long `close` waits for the thread to commit what waits and exit. @default 5000 */
  closeTimeoutMs?: number;
}

interface PendingCall {
  resolve(value: AppliedColumns | undefined): void;
  reject(error: Error): void;
}

interface Running {
  worker: Worker;
  calls: Map<number, PendingCall>;
}

/** Distributive, so each call keeps its own fields without its id. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const fromTypeScript = import.meta.url.endsWith('.ts');
const threadEntry = new URL(fromTypeScript ? './thread.ts' : './thread.js', import.meta.url);

export interface ThreadedApplier {
  apply: Applier;
  /** How often the thread stopped unasked (a metric). */
  readonly threadStops: number;
  /** Starts the thread and opens the store on it, so the first batch does not pay for that. */
  warmUp(): Promise<void>;
  /** Commits what waits and ends the thread. */
  close(): Promise<void>;
}

/** Starts the thread on first use, so a process that never applies never starts one. */
export function createThreadedApplier(
  recipe: StoreRecipe,
  options: ThreadedApplierOptions = {},
): ThreadedApplier {
  let running: Running | undefined;
  let threadStops = 0;
  let nextId = 1;
  const nextReplyTurn = oneTurnEach();
  let closed = false;

  const start = (): Running => {
    const worker = fromTypeScript
      ? new Worker(typeScriptBootstrap(), { workerData: recipe })
      : new Worker(threadEntry, { workerData: recipe });
    const calls = new Map<number, PendingCall>();
    let failure: Error | undefined;
    worker.on('message', (reply: ThreadReply) => {
      const call = calls.get(reply.id);
      if (!call) return;
      calls.delete(reply.id);
      // An idle thread does not keep the process alive; one with work does.
      if (calls.size === 0) worker.unref();
      // A group commit answers many calls at once, and Node hands over all the messages waiting
      // without reading a socket between them: one settles per turn, and webhooks go in between.
      void nextReplyTurn().then(() => {
        if ('error' in reply) call.reject(fromPlainError(reply.error));
        else call.resolve(reply.value);
      });
    });
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (running?.worker === worker) running = undefined;
      const stopped = new Error(`the apply thread stopped: ${failure?.message ?? `exit code ${code}`}`);
      stopped.name = 'ApplyThreadError';
      for (const call of calls.values()) call.reject(stopped);
      calls.clear();
      if (closed && !failure) return;
      threadStops += 1;
      options.onThreadStopped?.(stopped.message);
    });
    return { worker, calls };
  };

  const call = (message: WithoutId<ThreadCall>): Promise<AppliedColumns | undefined> => {
    if (closed && message.method !== 'close') return Promise.reject(new Error('the apply thread is closed'));
    running ??= start();
    const { worker, calls } = running;
    return new Promise((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...message, id });
    });
  };

  return {
    get threadStops() {
      return threadStops;
    },
    async apply(batch, { restate }) {
      const applied = await call({ method: 'apply', batch, restate });
      if (applied === undefined) throw new Error('the apply thread answered nothing');
      const columns = applied.changes;
      let changes: MembershipChange[] | undefined;
      return {
        batch: applied.batch,
        users: applied.users,
        counts: countColumns(columns),
        // Built only when read (by the sinks, or debug logs): a first sync's millions of changes
        // would otherwise be made into objects on the event loop for nothing.
        get changes() {
          changes ??= fromColumns(columns);
          return changes;
        },
      };
    },
    async warmUp() {
      await call({ method: 'warmUp' });
    },
    async close() {
      if (closed) return;
      closed = true;
      const current = running;
      if (!current) return;
      const exited = new Promise((resolve) => current.worker.once('exit', resolve));
      // A thread stuck in a statement is stopped: the store's promise (an applied batch survives) holds, as on a kill.
      const timer = setTimeout(() => void current.worker.terminate(), options.closeTimeoutMs ?? 5000);
      try {
        await call({ method: 'close' });
      } finally {
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Run from TypeScript (the tests, the benches), the thread registers tsx before it loads its entry:
 * on Node 20 a worker does not inherit the process's `--import tsx` hooks. Built (dist/), plain Node.
 */
function typeScriptBootstrap(): URL {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const source = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(threadEntry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}
