/**
 * @module The worker: takes batches from the queue, applies them to the store, retries with
 * backoff, and sets aside as a dead letter a batch the store keeps refusing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DeliveryLog } from '../inspect/deliveries/delivery-log.ts';
import { processName } from '../inspect/deliveries/process-name.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { CohortBatch } from './batch.ts';
import type { DeadLetters } from './dead-letters/dead-letters.ts';
import type { BatchHandler, DeliveryInfo } from './queue/queue.ts';
import { type ChangeCounts, logAppliedBatch } from './sinks/log.ts';
import type { MembershipChange, MembershipStore } from './store/store.ts';

export interface WorkerDeps {
  store: MembershipStore;
  deadLetters: DeadLetters;
  metrics: Metrics;
  logger: Logger;
  /** Attempts before a batch becomes a dead letter. @default 5 */
  maxAttempts?: number;
  /** Delay before retry n (1-based). @default 100 ms doubling, at most 5 s */
  backoffMs?: (retry: number) => number;
  /**
   * Called with the effective changes after each commit: where sinks plug in. The batch leaves the
   * queue only once it resolves; if it rejects, the queue delivers the batch again (restated).
   */
  onChanges?: (changes: MembershipChange[], batch: CohortBatch) => Promise<void>;
  /** Gets each applied batch's result, before its sinks run (the inspector's deliveries). @default none */
  deliveryLog?: DeliveryLog | undefined;
  now?: () => number;
}

/** APPLY_MAX_ATTEMPTS when unset. */
export const defaultApplyMaxAttempts = 5;

const defaultBackoff = (retry: number) => Math.min(5000, 100 * 2 ** (retry - 1));

/** Returns the handler to give to `queue.consume`. It resolves once the batch is applied or set aside. */
export function createWorker(deps: WorkerDeps): BatchHandler {
  const { store, metrics, logger } = deps;
  const maxAttempts = deps.maxAttempts ?? defaultApplyMaxAttempts;
  const backoffMs = deps.backoffMs ?? defaultBackoff;
  const now = deps.now ?? Date.now;
  const worker = processName();

  return async function applyFromQueue(batch: CohortBatch, delivery: DeliveryInfo) {
    const log = logger.child({ message_id: batch.messageId, cohort_id: batch.cohortId });
    if (delivery.attempt > maxAttempts) {
      // A durable queue delivered it this often and it never completed: each time, the process died
      // applying it (a crash, an OOM kill). Applying it again would only kill the next worker.
      const crashLoop = new Error(
        `delivered ${delivery.attempt} times without completing; a worker may be crashing on it`,
      );
      crashLoop.name = 'RedeliveryLimitError';
      return setAside(batch, crashLoop, delivery.attempt - 1, deps, log);
    }
    let changes: MembershipChange[] | undefined;
    for (let attempt = 1; changes === undefined; attempt += 1) {
      try {
        // Delivered again (a durable queue after a crash) or retried (a failed commit may still have
        // landed): an earlier apply may have committed without its changes reaching the sinks, so
        // ask the store to restate what this batch's users hold. Sinks get them at least once.
        const restate = delivery.attempt > 1 || attempt > 1;
        changes = await store.applyBatch(batch, { restate, source: delivery.source });
      } catch (error) {
        metrics.applyErrors.inc();
        if (attempt >= maxAttempts) return setAside(batch, error as Error, attempt, deps, log);
        log.warn({ err: error, attempt }, 'apply failed, will retry');
        await sleep(backoffMs(attempt));
      }
    }
    // Read from the queue when it knows: `batch.users` may be parsed only on read (src/queue/memory.ts).
    const users = delivery.users ?? batch.users.length;
    metrics.appliedUsers.inc(users);
    const lagMs = Math.max(0, now() - delivery.acceptedAt);
    metrics.applyLagSeconds.observe(lagMs / 1000);
    const counts = countChanges(users, changes);
    for (const kind of changeKinds) metrics.changes.inc({ kind }, counts[kind]);
    logAppliedBatch(log, { inCohort: batch.inCohort, users, counts }, changes, lagMs);
    deps.deliveryLog?.recordApplied({
      messageId: batch.messageId,
      appliedAt: now(),
      lagMs,
      worker,
      ...counts,
      sinks: [],
    });
    // Outside the retry loop, and awaited: the queue keeps the batch until the sinks have its changes.
    if (deps.onChanges && changes.length > 0) await deps.onChanges(changes, batch);
  };
}

const changeKinds = ['entered', 'left', 'updated'] as const;

/**
 * What an apply changed, counted once for the metrics, the log line and the inspector. Restated
 * changes (a redelivery) changed nothing, so they count as unchanged.
 */
function countChanges(users: number, changes: readonly MembershipChange[]): ChangeCounts {
  const counts = { entered: 0, left: 0, updated: 0 };
  for (const change of changes) if (!change.restated) counts[change.kind] += 1;
  return { ...counts, unchanged: Math.max(0, users - counts.entered - counts.left - counts.updated) };
}

async function setAside(batch: CohortBatch, error: Error, attempts: number, deps: WorkerDeps, log: Logger) {
  try {
    await deps.deadLetters.add({
      kind: 'failed',
      reason: `${error.name}: ${error.message} (after ${attempts} attempts)`,
      body: JSON.stringify(batch),
      messageId: batch.messageId,
    });
  } catch (letterError) {
    // The dead letters share the store's SQLite file, so a lock or a full disk that fails the apply
    // fails this too. Throw: the queue then delivers the batch again rather than drop what was acked.
    log.error(
      { err: letterError, apply_error: `${error.name}: ${error.message}`, attempts },
      'apply failed on every attempt and the dead letter could not be written; the batch will be delivered again',
    );
    throw letterError;
  }
  deps.metrics.deadLetters.inc({ kind: 'failed' });
  log.error({ err: error, attempts }, 'apply failed on every attempt; batch set aside as a dead letter');
}
