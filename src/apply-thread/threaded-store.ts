/**
 * @module A MembershipStore whose work runs on a worker thread (thread.ts): a batch's transaction
 * never holds the event loop that answers webhooks, and both cores work while a sync is applied
 * (docs/design.md#the-apply-thread). Batches, changes and pages cross as structured clones.
 */
import { Worker } from 'node:worker_threads';
import { oneTurnEach } from '../core/event-loop-turns.ts';
import type { MembershipStore } from '../core/store/store.ts';
import { type ChangeColumns, fromColumns } from './change-columns.ts';
import type { StoreSpec } from './open-store.ts';
import { fromPlainError, type StoreMethod, type StoreReply } from './protocol.ts';

/** The read side a store can serve on the event loop instead of the thread. */
export type StoreReads = Pick<MembershipStore, 'listCohorts' | 'listMembers' | 'userCohorts' | 'check'>;

export interface ThreadedStoreOptions {
  /**
   * Serves the reads here instead of on the thread: the SQLite file's connection on the event loop,
   * whose WAL reads run beside the thread's writes instead of waiting behind a commit.
   */
  reads?: StoreReads | undefined;
  /** Hears why the thread stopped unasked. The calls it held fail (the worker retries them); the next call starts a new thread. */
  onThreadStopped?: (reason: string) => void;
  /** How long `close` waits for the thread to commit what waits and exit. @default 5000 */
  closeTimeoutMs?: number;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Running {
  worker: Worker;
  calls: Map<number, PendingCall>;
}

const fromTypeScript = import.meta.url.endsWith('.ts');
const threadEntry = new URL(fromTypeScript ? './thread.ts' : './thread.js', import.meta.url);

/** A store on the apply thread, and how often that thread stopped unasked (a metric). */
export interface ThreadedStore extends MembershipStore {
  readonly threadStops: number;
}

/** Starts the thread on first use, so a process that never applies (ROLE=receiver) never starts one. */
export function createThreadedStore(spec: StoreSpec, options: ThreadedStoreOptions = {}): ThreadedStore {
  let running: Running | undefined;
  let threadStops = 0;
  let nextId = 1;
  const nextReplyTurn = oneTurnEach();
  let closed = false;

  const start = (): Running => {
    const worker = fromTypeScript
      ? new Worker(typeScriptBootstrap(), { workerData: spec })
      : new Worker(threadEntry, { workerData: spec });
    const calls = new Map<number, PendingCall>();
    let failure: Error | undefined;
    worker.on('message', (reply: StoreReply) => {
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

  const call = (method: StoreMethod, args: unknown[]): Promise<unknown> => {
    if (closed && method !== 'close') return Promise.reject(new Error('the store is closed'));
    running ??= start();
    const { worker, calls } = running;
    return new Promise((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve, reject });
      worker.ref();
      try {
        worker.postMessage({ id, method, args });
      } catch (error) {
        // A value structured cloning cannot copy (a DataCloneError): this call fails, alone.
        calls.delete(id);
        reject(error as Error);
      }
    });
  };

  const { reads } = options;
  return {
    get threadStops() {
      return threadStops;
    },
    async applyBatch(batch, applyOptions) {
      // With the queue's text at hand, only that crosses (the thread parses it again); else the batch.
      const columns = await call('applyBatch', [applyOptions?.source ? null : batch, applyOptions]);
      return fromColumns(columns as ChangeColumns);
    },
    listCohorts: () =>
      reads?.listCohorts() ?? (call('listCohorts', []) as ReturnType<StoreReads['listCohorts']>),
    listMembers: (cohortId, request) =>
      reads?.listMembers(cohortId, request) ??
      (call('listMembers', [cohortId, request]) as ReturnType<StoreReads['listMembers']>),
    userCohorts: (userId) =>
      reads?.userCohorts(userId) ?? (call('userCohorts', [userId]) as ReturnType<StoreReads['userCohorts']>),
    async check() {
      await reads?.check();
      await call('check', []);
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
        await call('close', []);
      } finally {
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Run from TypeScript (npm start, the tests), the thread registers tsx before it loads its entry: on
 * Node 20 a worker does not inherit the process's `--import tsx` hooks. Built (dist/), plain Node.
 */
function typeScriptBootstrap(): URL {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const source = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(threadEntry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}
