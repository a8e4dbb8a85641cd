/**
 * @module What `npm run dlq -- replay` does with each kind of letter, in any queue mode:
 * - `failed` (a batch the store refused on every attempt): handed back to the workers through a
 *   durable queue, bypassing dedupe, so it is applied like any batch (retries, sinks, metrics) and
 *   dead-lettered again if the store still refuses. With QUEUE=memory the queue lives inside the
 *   receiver process, out of reach, so the batch is applied to the store directly.
 * - `rejected` (a body that got 400/422): parsed again by the receiver's parser and, if it now
 *   passes, accepted as if it had just arrived (with dedupe: if Amplitude's retry already got in,
 *   it is a duplicate). A rejected body passes only if the receiver changed since (a parser fix,
 *   a raised limit); a template fixed in Amplitude changes what Amplitude sends next, not this body.
 * - `sink` (changes a sink refused): sent again, as the store's current state (src/replay/resend-sink-letter.ts).
 * Every path is idempotent: applying a batch twice changes nothing (last writer wins).
 */
import { z } from 'zod';
import type { CohortBatch } from '../core/batch.ts';
import { type Letter, letterBytes } from '../core/dead-letters/dead-letters.ts';
import { decodeBatch, rejectionOf } from '../core/payload/decode-body.ts';
import type { BatchParser } from '../core/payload/parse-batch.ts';
import type { Queue } from '../core/queue/queue.ts';
import type { MembershipStore } from '../core/store/store.ts';
import { type ReplaySinkLetterDeps, replaySinkLetter } from './resend-sink-letter.ts';

export interface ReplayDeps {
  queue: Queue;
  store: MembershipStore;
  /** The receiver's parser, with its configured limits. */
  parseBatch: BatchParser;
  /** Builds what a `sink` letter needs (the configured sinks); called only for one. */
  sinkReplay: () => Omit<ReplaySinkLetterDeps, 'store'>;
}

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

/** True when the letter has done its job and can be dropped. */
export const replayed = (outcome: ReplayOutcome) =>
  outcome.status !== 'still_rejected' && outcome.status !== 'not_replayable';

const storedBatch = z.object({
  cohortId: z.string(),
  cohortName: z.string(),
  inCohort: z.boolean(),
  computedTime: z.number(),
  messageId: z.string(),
  users: z.array(z.object({ userId: z.string(), properties: z.record(z.string(), z.unknown()).optional() })),
});

export async function replayLetter(letter: Letter, deps: ReplayDeps): Promise<ReplayOutcome> {
  if (letter.kind === 'sink') {
    const { sink, changes } = await replaySinkLetter(letter, { ...deps.sinkReplay(), store: deps.store });
    return { status: 'resent', sink, changes };
  }
  if (letter.truncated) {
    return {
      status: 'not_replayable',
      detail: 'the body was cut to the quarantine size limit when it was kept',
    };
  }
  if (letter.kind === 'failed') {
    const parsed = storedBatch.safeParse(safeJson(letter.body));
    if (!parsed.success) return { status: 'not_replayable', detail: 'the body is not a stored batch' };
    return handBack(parsed.data as CohortBatch, deps);
  }
  let decoded: ReturnType<typeof decodeBatch>;
  try {
    // The letter's exact bytes, through the webhook's own steps; the receive time is the letter's:
    // the per-user flag list takes its computed_time from it.
    decoded = decodeBatch(letterBytes(letter), deps.parseBatch, letter.createdAt);
  } catch (error) {
    // Worded as the letter's reason is, so an operator sees whether it fails for the same cause.
    return { status: 'still_rejected', detail: rejectionOf(error)?.summary ?? String(error) };
  }
  const { batch, text } = decoded;
  if (deps.queue.requeue === undefined) return applyDirectly(batch, deps);
  const outcome = await deps.queue.accept(batch, { rawBody: text, receivedAtMs: letter.createdAt });
  return { status: outcome, messageId: batch.messageId };
}

async function handBack(batch: CohortBatch, deps: ReplayDeps): Promise<ReplayOutcome> {
  if (deps.queue.requeue === undefined) return applyDirectly(batch, deps);
  await deps.queue.requeue(batch);
  return { status: 'requeued' };
}

async function applyDirectly(batch: CohortBatch, deps: ReplayDeps): Promise<ReplayOutcome> {
  const changes = await deps.store.applyBatch(batch);
  return { status: 'applied', changes: changes.length };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
