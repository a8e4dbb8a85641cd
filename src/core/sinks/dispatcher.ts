/**
 * @module Hands each applied batch's changes to every sink, in per-user order, with retries, and
 * sets aside as a `sink` dead letter what a sink would not take. `dispatch` resolves only once every
 * sink has the changes or they are in the dead letters: the worker awaits it before the queue lets
 * the batch go, so a durable queue still holds the batch until its changes are safe.
 */
import type { Logger } from 'pino';
import type { DeadLetters } from '../dead-letters/dead-letters.ts';
import { errorText } from '../error-text.ts';
import type { ReceiverEvents } from '../events.ts';
import type { MembershipChange } from '../store/store.ts';
import type { SinkGate } from './gate.ts';
import { type RetryOptions, type SendFailure, sendWithRetries } from './retry.ts';
import { everything, routeMatcher, type SinkRoute } from './route.ts';
import type { Sink } from './sink.ts';

export interface SinkDispatcherOptions
  extends Pick<RetryOptions, 'maxAttempts' | 'backoffMs' | 'maxRetryAfterMs' | 'random'> {
  sinks: readonly Sink[];
  /** What each sink takes, by name. @default every change */
  routes?: ReadonlyMap<string, SinkRoute>;
  deadLetters: DeadLetters;
  logger: Logger;
  /** Hears each sink's result per batch and each failed attempt. @default nobody */
  events?: ReceiverEvents;
}

export interface SinkDispatcher {
  /**
   * Resolves once every sink has `changes` or they are kept as dead letters; rejects only when the
   * dead letter cannot be written or the dispatcher closes, so the queue hands the batch over again.
   */
  dispatch(changes: readonly MembershipChange[], messageId?: string): Promise<void>;
  /**
   * Sends changes to one sink past the gate and its route, in the same per-user lanes as `dispatch`:
   * how a drained backlog or a backfill reaches the sink. Resolves as `dispatch` does.
   */
  deliver(sink: string, changes: readonly MembershipChange[], messageId?: string): Promise<void>;
  /** From now on, `dispatch` asks `gate` what each sink gets now. */
  useGate(gate: SinkGate): void;
  /** Stops waiting between retries (pending sends reject) and closes the sinks. */
  close(): Promise<void>;
}

/** The body of a `sink` dead letter, as a replay reads it back. */
export interface SinkLetterBody {
  sink: string;
  changes: MembershipChange[];
}

export function createSinkDispatcher(options: SinkDispatcherOptions): SinkDispatcher {
  const closing = new AbortController();
  const lanes = new Map(
    options.sinks.map((sink) => [sink.name, createOrderedLanes(sink, options, closing.signal)] as const),
  );
  const matchers = options.sinks.map(
    (sink) => [sink.name, routeMatcher(options.routes?.get(sink.name) ?? everything)] as const,
  );
  let gate: SinkGate | undefined;
  const deliver = async (sink: string, changes: readonly MembershipChange[], messageId?: string) => {
    closing.signal.throwIfAborted();
    const send = lanes.get(sink);
    if (send === undefined) throw new Error(`no sink named ${sink}`);
    if (changes.length > 0) await send(changes, messageId);
  };
  return {
    async dispatch(changes, messageId) {
      closing.signal.throwIfAborted();
      if (changes.length === 0) return;
      const routed = new Map(matchers.map(([name, takes]) => [name, changes.filter(takes)] as const));
      const now = gate ? await gate.admit(routed, changes) : routed;
      await Promise.all([...now].map(([sink, some]) => deliver(sink, some, messageId)));
    },
    deliver,
    useGate(next) {
      gate = next;
    },
    async close() {
      closing.abort(new Error('sink dispatcher closed'));
      await Promise.all(options.sinks.map((sink) => sink.close?.()));
    },
  };
}

/**
 * Per-user order with concurrency: changes go to `sink.concurrency` lanes by a hash of (cohortId,
 * userId), and each lane sends its batches one after another, retries included. So a change never
 * overtakes an older one for the same user, while users in different lanes go in parallel.
 */
function createOrderedLanes(sink: Sink, options: SinkDispatcherOptions, signal: AbortSignal) {
  const laneCount = sink.concurrency ?? 1;
  const batchSize = sink.batchSize ?? Number.POSITIVE_INFINITY;
  const lanes: Promise<unknown>[] = Array.from({ length: laneCount }, () => Promise.resolve());
  const { maxAttempts, backoffMs, maxRetryAfterMs, random, logger, events } = options;
  const retry: RetryOptions = {
    ...definedOnly({ maxAttempts, backoffMs, maxRetryAfterMs, random }),
    logger,
    signal,
    onFailedAttempt: () => events?.emit('sinkAttemptFailed', { sink: sink.name }),
  };

  const sendLane = async (changes: MembershipChange[]) => {
    const failed: { changes: MembershipChange[]; failure: SendFailure }[] = [];
    for (const batch of cutIntoBatches(changes, batchSize)) {
      const failure = await sendWithRetries(sink, batch, retry);
      if (failure) failed.push({ changes: batch, failure });
    }
    return failed;
  };

  return async function sendInOrder(changes: readonly MembershipChange[], messageId: string | undefined) {
    const runs = partitionByUser(changes, laneCount).map((laneChanges, index) => {
      if (laneChanges.length === 0) return Promise.resolve([]);
      const run = (lanes[index] as Promise<unknown>).then(() => sendLane(laneChanges));
      // A lane goes on after a failure: the next call's changes are newer than the dead letter's.
      lanes[index] = run.catch(() => undefined);
      return run;
    });
    const failed = (await Promise.all(runs)).flat();
    const undelivered = failed.flatMap((entry) => entry.changes);
    const lastFailure = failed.at(-1)?.failure;
    events?.emit('sinkOutcome', {
      sink: sink.name,
      messageId,
      delivered: changes.length - undelivered.length,
      failed: undelivered.length,
      ...(lastFailure ? { error: `${lastFailure.error.name}: ${errorText(lastFailure.error)}` } : {}),
    });
    if (lastFailure === undefined) return;
    const { error, attempts } = lastFailure;
    logger.error(
      { err: error, sink: sink.name, attempts, changes: undelivered.length, message_id: messageId },
      'sink send failed on every attempt; changes set aside as a dead letter',
    );
    const body: SinkLetterBody = { sink: sink.name, changes: undelivered };
    await options.deadLetters.add({
      kind: 'sink',
      reason: `${sink.name}: ${error.name}: ${errorText(error)} (after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'})`,
      body: JSON.stringify(body),
      ...(messageId === undefined ? {} : { messageId }),
    });
    events?.emit('deadLettered', { kind: 'sink', messageId });
  };
}

/** Splits changes into `laneCount` lists by user, each keeping the order the changes came in. */
function partitionByUser(changes: readonly MembershipChange[], laneCount: number): MembershipChange[][] {
  const lanes: MembershipChange[][] = Array.from({ length: laneCount }, () => []);
  for (const change of changes) {
    (lanes[laneOf(change, laneCount)] as MembershipChange[]).push(change);
  }
  return lanes;
}

/** FNV-1a over cohortId and userId: cheap, and the same user always lands in the same lane. */
function laneOf({ cohortId, userId }: MembershipChange, laneCount: number): number {
  if (laneCount === 1) return 0;
  let hash = 0x811c9dc5;
  for (const text of [cohortId, '\u0000', userId]) {
    for (let index = 0; index < text.length; index += 1) {
      hash ^= text.charCodeAt(index);
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return (hash >>> 0) % laneCount;
}

/** Batches of at most `size`, and never two changes for one user in a batch (sinks may rely on it). */
function cutIntoBatches(changes: readonly MembershipChange[], size: number): MembershipChange[][] {
  const batches: MembershipChange[][] = [];
  let current: MembershipChange[] = [];
  let users = new Set<string>();
  for (const change of changes) {
    const user = JSON.stringify([change.cohortId, change.userId]);
    if (current.length >= size || users.has(user)) {
      batches.push(current);
      current = [];
      users = new Set();
    }
    current.push(change);
    users.add(user);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Drops undefined entries, so optional options can be passed on under exactOptionalPropertyTypes. */
function definedOnly<T extends object>(entries: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
