/**
 * @module Replays a `sink` dead letter: sends its users' changes again to the sink that refused
 * them, as the state the store holds now, for `npm run dlq -- replay <id>`.
 */
import type { CohortBatch } from '../core/batch.ts';
import type { Letter } from '../core/dead-letters/dead-letters.ts';
import type { SinkLetterBody } from '../core/sinks/dispatcher.ts';
import { type RetryOptions, sendWithRetries } from '../core/sinks/retry.ts';
import type { Sink } from '../core/sinks/sink.ts';
import type { MembershipChange, MembershipStore } from '../core/store/store.ts';

export interface ReplaySinkLetterDeps extends Omit<RetryOptions, 'onFailedAttempt'> {
  /** The store the receiver applies to: it says what each user's state is now. */
  store: MembershipStore;
  /** The configured sinks; the letter names the one to send to. */
  sinks: readonly Sink[];
}

/**
 * Sends a `sink` letter's changes again. A letter can be old: since it was written, newer changes
 * for the same users may have reached the sink, and replaying the letter as it stands would set
 * them back. So each change's message is applied again with `restate` — a no-op on the store that
 * reports what every user's register holds now — and that current state is what is sent.
 * Resolves with what was sent; throws when the letter is not a sink letter, names a sink that is
 * not configured, or the sink still refuses (then keep the letter).
 */
export async function replaySinkLetter(
  letter: Letter,
  deps: ReplaySinkLetterDeps,
): Promise<{ sink: string; changes: number }> {
  if (letter.kind !== 'sink')
    throw new Error(`letter ${letter.id} is a ${letter.kind} letter, not a sink letter`);
  const body = JSON.parse(letter.body) as SinkLetterBody;
  const sink = deps.sinks.find((candidate) => candidate.name === body.sink);
  if (sink === undefined) {
    const configured = deps.sinks.map((candidate) => candidate.name).join(', ') || 'none';
    throw new Error(
      `letter ${letter.id} is for the sink "${body.sink}", which is not configured (SINKS: ${configured})`,
    );
  }
  const current: MembershipChange[] = [];
  for (const batch of batchesOf(body.changes)) {
    current.push(...(await deps.store.applyBatch(batch, { restate: true })));
  }
  const batchSize = sink.batchSize ?? Number.POSITIVE_INFINITY;
  for (let start = 0; start < current.length; start += batchSize) {
    const failure = await sendWithRetries(sink, current.slice(start, start + batchSize), deps);
    if (failure) {
      throw new Error(
        `sink "${sink.name}" still refuses after ${failure.attempts} ${failure.attempts === 1 ? 'attempt' : 'attempts'}: ${failure.error.message}`,
        {
          cause: failure.error,
        },
      );
    }
  }
  return { sink: sink.name, changes: current.length };
}

/**
 * Rebuilds, from the changes, the part of each message that made them: one batch per (cohort,
 * message, direction), holding exactly the users and properties the register took from it.
 */
function batchesOf(changes: readonly MembershipChange[]): CohortBatch[] {
  const batches = new Map<string, CohortBatch>();
  for (const change of changes) {
    const inCohort = change.kind !== 'left';
    const key = JSON.stringify([change.cohortId, change.computedTime, change.messageId, inCohort]);
    let batch = batches.get(key);
    if (batch === undefined) {
      const { cohortId, cohortName, computedTime, messageId } = change;
      batch = { cohortId, cohortName, inCohort, computedTime, messageId, users: [] };
      batches.set(key, batch);
    }
    batch.users.push({
      userId: change.userId,
      ...(change.properties === undefined ? {} : { properties: change.properties }),
    });
  }
  return [...batches.values()];
}
