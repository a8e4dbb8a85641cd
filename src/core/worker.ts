/**
 * @module The worker: takes batches from the queue, applies them, retries with backoff, and sets
 * aside as a dead letter a batch the store keeps refusing; waits, spending no attempt, while the
 * store is away; then hands the changes to the sinks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CohortBatch } from './batch.ts';
import { type DeadLetters, truncateBody } from './dead-letters/dead-letters.ts';
import { StoreUnavailableError } from './errors.ts';
import { oneTurnEach } from './event-loop-turns.ts';
import type { ChangeCounts, ReceiverEvents } from './events.ts';
import { type QueuedBodyDecoder, toDefaultShapeBody, UndecodableBodyError } from './payload/decode-body.ts';
import { HandBackError } from './queue/hand-over.ts';
import type { BatchHandler, QueuedBatch } from './queue/queue.ts';
import { changeFields } from './sinks/log.ts';
import type { MembershipChange, MembershipStore } from './store/store.ts';
import { trackStoreOutage } from './store-outage.ts';

/** A batch without its users: what the worker needs to know of an applied batch. */
export type BatchEnvelope = Omit<CohortBatch, 'users'>;

/** What applying a queued batch did. */
export interface AppliedBatch {
  batch: BatchEnvelope;
  users: number;
  changes: MembershipChange[];
  /**
   * The changes counted where they were made (restated ones left out): an applier that builds
   * `changes` only when read gives these, so a worker with no sink never builds them.
   */
  counts?: Pick<ChangeCounts, 'entered' | 'left' | 'updated'>;
}

/**
 * Parses a queued batch and applies it to the store, atomically.
 * @throws UndecodableBodyError when the body no longer parses; StoreUnavailableError while the
 * store cannot be reached; anything else is the store refusing the batch.
 */
export type Applier = (batch: QueuedBatch, options: { restate: boolean }) => Promise<AppliedBatch>;

/**
 * Parses and applies on the thread that calls it. On the event loop that answers webhooks, one
 * batch is parsed per turn, so the webhooks waiting are read between one parse and the next when
 * many batches come at once; a thread that answers none (`eachTurn: false`) parses all it was
 * handed at once, so a store that groups commits gets them in one group.
 */
export function storeApplier(
  store: MembershipStore,
  decode: QueuedBodyDecoder,
  { eachTurn = true }: { eachTurn?: boolean } = {},
): Applier {
  const nextTurn = eachTurn ? oneTurnEach() : undefined;
  return async function applyQueued(queued, { restate }) {
    await nextTurn?.();
    const batch = decode(queued.body, queued.receivedAt);
    const changes = await store.applyBatch(batch, { restate });
    const { users, ...envelope } = batch;
    return { batch: envelope, users: users.length, changes };
  };
}

export interface WorkerDeps {
  apply: Applier;
  /** Reads a body back for the dead letter of a batch that failed on every attempt. */
  decode: QueuedBodyDecoder;
  deadLetters: DeadLetters;
  events: ReceiverEvents;
  logger: Logger;
  /** Attempts before a batch becomes a dead letter. @default 5 */
  maxAttempts?: number;
  /** Delay before retry n (1-based). @default 100 ms doubling, at most 5 s */
  backoffMs?: (retry: number) => number;
  /**
   * Delay before trying again a store found away, the nth time in a row (1-based). Capped low, so
   * applying resumes within a second of the store's return. @default 100 ms doubling, at most 1 s
   */
  awayBackoffMs?: (retry: number) => number;
  /**
   * Aborted when the process stops: a batch waiting for a store that is away stops waiting and goes
   * back to the queue unfinished, to be applied later (by the next process, for a durable queue).
   */
  stopWaiting?: AbortSignal;
  /**
   * Called with the effective changes after each commit: where sinks plug in (absent without
   * sinks). The batch leaves the queue only once it resolves; if it rejects, the queue hands the
   * batch over again (restated).
   */
  onChanges?: (changes: MembershipChange[], messageId: string) => Promise<void>;
  now?: () => number;
}

/** APPLY_MAX_ATTEMPTS when unset. */
export const defaultApplyMaxAttempts = 5;

const defaultBackoff = (retry: number) => Math.min(5000, 100 * 2 ** (retry - 1));
const defaultAwayBackoff = (retry: number) => Math.min(1000, 100 * 2 ** (retry - 1));

/** Returns the handler to give to `queue.consume`. It resolves once the batch is applied or set aside. */
export function createWorker(deps: WorkerDeps): BatchHandler {
  const { events, logger } = deps;
  const maxAttempts = deps.maxAttempts ?? defaultApplyMaxAttempts;
  const backoffMs = deps.backoffMs ?? defaultBackoff;
  const awayBackoffMs = deps.awayBackoffMs ?? defaultAwayBackoff;
  const now = deps.now ?? Date.now;
  const outage = trackStoreOutage(events, logger, now);

  /** Waits before trying a store found away again; when the process stops, gives the batch back. */
  const waitForStore = async (retry: number, error: StoreUnavailableError) => {
    const stopping = new HandBackError('the process is stopping while the store is away', { cause: error });
    if (deps.stopWaiting?.aborted) throw stopping;
    try {
      await sleep(awayBackoffMs(retry), undefined, { signal: deps.stopWaiting });
    } catch {
      throw stopping;
    }
  };

  return async function applyFromQueue(queued, handOver) {
    const log = logger.child({ message_id: queued.messageId });
    if (handOver.attempt > maxAttempts) {
      // Handed over this often without completing: each time, the process died applying it (a
      // crash, an OOM kill). Applying it again would only kill the next worker.
      const crashLoop = new Error(
        `delivered ${handOver.attempt} times without completing; a worker may be crashing on it`,
      );
      crashLoop.name = 'RedeliveryLimitError';
      return setAside(queued, crashLoop, handOver.attempt - 1, deps, log);
    }
    let applied: AppliedBatch | undefined;
    let attempt = 1;
    let awayRetries = 0;
    for (let tries = 1; applied === undefined; tries += 1) {
      try {
        // Handed over again (after a crash) or retried (a failed commit may still have landed): an
        // earlier apply may have committed before its changes reached the sinks, so the store
        // restates what this batch's users hold. Sinks get every change at least once.
        applied = await deps.apply(queued, { restate: handOver.attempt > 1 || tries > 1 });
      } catch (error) {
        if (error instanceof UndecodableBodyError) return quarantine(queued, error, deps);
        if (error instanceof StoreUnavailableError) {
          // Not the batch's fault: no attempt spent, so an outage of any length sets nothing aside.
          outage.away(queued.messageId, error);
          awayRetries += 1;
          await waitForStore(awayRetries, error);
          continue;
        }
        outage.answered();
        awayRetries = 0;
        events.emit('applyFailed', { messageId: queued.messageId, attempt, error: error as Error });
        if (attempt >= maxAttempts) return setAside(queued, error as Error, attempt, deps, log);
        log.warn({ err: error, attempt }, 'apply failed, will retry');
        await sleep(backoffMs(attempt));
        attempt += 1;
      }
    }
    outage.answered();
    const { batch, users } = applied;
    const lagMs = Math.max(0, now() - handOver.acceptedAt);
    const counts = countChanges(applied);
    log.info(
      {
        cohort_id: batch.cohortId,
        direction: batch.inCohort ? 'in' : 'out',
        users,
        ...counts,
        lag_ms: Math.round(lagMs),
      },
      'batch applied',
    );
    if (log.isLevelEnabled('debug'))
      for (const change of applied.changes) log.debug(changeFields(change), 'membership change');
    const { cohortId, cohortName, inCohort, messageId } = batch;
    events.emit('applied', {
      messageId,
      cohortId,
      cohortName,
      inCohort,
      users,
      ...counts,
      lagMs,
      appliedAt: now(),
    });
    // Outside the retry loop, and awaited: the queue keeps the batch until the sinks have its changes.
    if (deps.onChanges && applied.changes.length > 0) await deps.onChanges(applied.changes, messageId);
  };
}

/** Restated changes (a redelivery) changed nothing, so they count as unchanged. */
function countChanges(applied: AppliedBatch): ChangeCounts {
  const { users } = applied;
  let { counts } = applied;
  if (counts === undefined) {
    const counted = { entered: 0, left: 0, updated: 0 };
    for (const change of applied.changes) if (!change.restated) counted[change.kind] += 1;
    counts = counted;
  }
  const { entered, left, updated } = counts;
  return { entered, left, updated, unchanged: Math.max(0, users - entered - left - updated) };
}

async function setAside(queued: QueuedBatch, error: Error, attempts: number, deps: WorkerDeps, log: Logger) {
  const reason = `${error.name}: ${error.message} (after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'})`;
  let cohortId: string | undefined;
  try {
    // The normalised batch, in Amplitude's default shape: a replay queues it again as it is.
    const batch = deps.decode(queued.body, queued.receivedAt);
    cohortId = batch.cohortId;
    const body = toDefaultShapeBody(batch);
    await deps.deadLetters.add({ kind: 'failed', reason, body, messageId: queued.messageId });
  } catch (letterError) {
    // The dead letters may share the store's file, so a lock or a full disk that fails the apply
    // fails this too. Throw: the queue then hands the batch over again rather than drop what was acked.
    log.error(
      { err: letterError, cohort_id: cohortId, apply_error: `${error.name}: ${error.message}`, attempts },
      'apply failed on every attempt and the dead letter could not be written; the batch will be delivered again',
    );
    throw letterError;
  }
  deps.events.emit('deadLettered', { kind: 'failed', messageId: queued.messageId });
  log.error(
    { err: error, cohort_id: cohortId, attempts },
    'apply failed on every attempt; batch set aside as a dead letter',
  );
}

/** A body the parser refuses since it was accepted goes to the quarantine, as it is, to replay once fixed. */
async function quarantine(queued: QueuedBatch, error: UndecodableBodyError, deps: WorkerDeps) {
  await deps.deadLetters.add({
    kind: 'rejected',
    reason: `queued, then undecodable: ${error.message}`,
    messageId: queued.messageId,
    ...truncateBody(queued.body),
  });
  deps.events.emit('deadLettered', { kind: 'rejected', messageId: queued.messageId });
  deps.logger.error(
    { message_id: queued.messageId, err: error },
    'a queued batch no longer parses; quarantined',
  );
}
