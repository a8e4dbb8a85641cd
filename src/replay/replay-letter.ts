/**
 * @module What replaying a dead letter does with each kind, in any queue mode:
 * - `failed` (a batch the store refused on every attempt): handed back to the workers through a
 *   durable queue, bypassing dedupe, so it is applied like any batch (retries, sinks, metrics) and
 *   set aside again if the store still refuses. With QUEUE=memory the queue lives inside the
 *   receiver process, out of reach of the CLI, so the batch is applied to the store directly.
 * - `rejected` (a body that got 400/422): parsed again by the receiver's parser and, if it now
 *   passes, accepted as if it had just arrived (with dedupe: if Amplitude's retry already got in,
 *   it is a duplicate). A rejected body passes only if the receiver changed since (a parser fix,
 *   a raised limit); a template fixed in Amplitude changes what Amplitude sends next, not this body.
 * - `sink` (changes a sink refused): sent again, as the store's current state (resend-sink-letter.ts).
 * Every path is idempotent: applying a batch twice changes nothing (last writer wins).
 */
import { z } from 'zod';
import type { CohortBatch } from '../core/batch.ts';
import { type Letter, letterBytes } from '../core/dead-letters/dead-letters.ts';
import { ReceiverError } from '../core/errors.ts';
import { createQueuedBodyDecoder, decodeBatch, toDefaultShapeBody } from '../core/payload/decode-body.ts';
import type { BatchParser } from '../core/payload/parse-batch.ts';
import type { Queue } from '../core/queue/queue.ts';
import type { MembershipStore } from '../core/store/store.ts';
import type { ReplayOutcome } from '../runtime/extension.ts';
import { type ReplaySinkLetterDeps, replaySinkLetter } from './resend-sink-letter.ts';

export interface ReplayDeps {
  queue: Queue;
  /** Absent in a ROLE=receiver process: what needs the store is then not replayable there. */
  store: MembershipStore | undefined;
  /** The receiver's parser, with its configured limits. */
  parseBatch: BatchParser;
  /** Builds what a `sink` letter needs (the configured sinks); called only for one. */
  sinkReplay: () => Omit<ReplaySinkLetterDeps, 'store'>;
}

/** True when the letter has done its job and can be dropped. */
export const replayed = (outcome: ReplayOutcome) =>
  outcome.status !== 'still_rejected' && outcome.status !== 'not_replayable';

/** A `failed` letter kept by an earlier release: the normalised batch as JSON. */
const storedBatch = z.object({
  cohortId: z.string(),
  cohortName: z.string(),
  inCohort: z.boolean(),
  computedTime: z.number(),
  messageId: z.string(),
  users: z.array(z.object({ userId: z.string(), properties: z.record(z.string(), z.unknown()).optional() })),
});

const decodeQueued = createQueuedBodyDecoder();

export async function replayLetter(letter: Letter, deps: ReplayDeps): Promise<ReplayOutcome> {
  if (letter.kind === 'sink') {
    if (deps.store === undefined) return noStore;
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
    const batch = failedBatch(letter);
    if (batch === undefined) return { status: 'not_replayable', detail: 'the body is not a stored batch' };
    if (deps.queue.requeue === undefined) return applyDirectly(batch, deps);
    const body = toDefaultShapeBody(batch);
    await deps.queue.requeue({
      messageId: batch.messageId,
      users: batch.users.length,
      body,
      receivedAt: letter.createdAt,
    });
    return { status: 'requeued' };
  }
  let decoded: ReturnType<typeof decodeBatch>;
  try {
    // The letter's exact bytes, through the webhook's own steps; the receive time is the letter's:
    // the per-user flag list takes its computed_time from it.
    decoded = decodeBatch(letterBytes(letter), deps.parseBatch, letter.createdAt);
  } catch (error) {
    // Worded as the letter's reason is, so an operator sees whether it fails for the same cause.
    const detail = error instanceof ReceiverError ? `${error.reason}: ${error.message}` : String(error);
    return { status: 'still_rejected', detail };
  }
  const { batch, text } = decoded;
  if (deps.queue.requeue === undefined) return applyDirectly(batch, deps);
  const queued = {
    messageId: batch.messageId,
    users: batch.users.length,
    body: text,
    receivedAt: letter.createdAt,
  };
  return { status: await deps.queue.accept(queued), messageId: batch.messageId };
}

/** The batch a `failed` letter holds: Amplitude's default shape, or an earlier release's JSON. */
function failedBatch(letter: Letter): CohortBatch | undefined {
  try {
    return decodeQueued(letter.body, letter.createdAt);
  } catch {
    const parsed = storedBatch.safeParse(safeJson(letter.body));
    return parsed.success ? (parsed.data as CohortBatch) : undefined;
  }
}

const noStore: ReplayOutcome = {
  status: 'not_replayable',
  detail: 'this process has no store (ROLE=receiver)',
};

async function applyDirectly(batch: CohortBatch, deps: ReplayDeps): Promise<ReplayOutcome> {
  if (deps.store === undefined) return noStore;
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
