/**
 * @module POST {WEBHOOK_PATH}: the ack path. Read, decode, validate, accept once, answer.
 * No store I/O and no per-user work beyond validation happen here: Amplitude waits 1-2 s at most.
 */
import type { Handler } from 'hono';
import type { Logger } from 'pino';
import type { CohortBatch } from '../batch.ts';
import { type DeadLetters, keptBody } from '../dead-letters/dead-letters.ts';
import { IncompleteBodyError, InvalidJsonError, PayloadError, ReceiverError } from '../errors.ts';
import {
  maxEventUserIdChars,
  maxEventUserIds,
  type ReceiverEvents,
  type WebhookAnswered,
} from '../events.ts';
import { decodeBatch } from '../payload/decode-body.ts';
import type { BatchParser } from '../payload/parse-batch.ts';
import type { Queue } from '../queue/queue.ts';
import type { AppEnv } from './app-env.ts';
import { readBody } from './read-body.ts';

export interface WebhookDeps {
  queue: Queue;
  parseBatch: BatchParser;
  deadLetters: DeadLetters;
  events: ReceiverEvents;
  logger: Logger;
  maxBodyBytes: number;
}

export function webhookRoute(deps: WebhookDeps): Handler<AppEnv> {
  const { queue, events } = deps;
  return async function receiveWebhook(c) {
    const started = performance.now();
    const receivedAt = Date.now();
    const line = c.get('logLine');
    let batch: CohortBatch | undefined;
    let quarantineId: string | undefined;
    const answered = (answer: Pick<WebhookAnswered, 'outcome' | 'status' | 'reason'>) =>
      events.emit('webhook', {
        ...answer,
        ...(batch ? batchFields(batch) : { messageId: null }),
        ...(quarantineId && { quarantineId }),
        receivedAt,
        ackMs: performance.now() - started,
      });
    try {
      // Node's own request when served: the body is read without a Web stream in between.
      const raw = await readBody(c.env?.incoming ?? c.req.raw, deps.maxBodyBytes);
      let text: string;
      try {
        ({ batch, text } = decodeBatch(raw, deps.parseBatch, receivedAt));
      } catch (error) {
        if (error instanceof InvalidJsonError || error instanceof PayloadError) {
          line.detail = error.message.slice(0, 500);
          quarantineId = await quarantine(raw, error, deps);
        }
        throw error;
      }
      const { messageId, cohortId } = batch;
      const users = batch.users.length;
      Object.assign(line, { message_id: messageId, cohort_id: cohortId, users });
      const outcome = await queue.accept({ messageId, users, body: text, receivedAt });
      line.outcome = outcome;
      answered({ outcome, status: 200 });
      if (outcome === 'duplicate') return c.json({ status: 'duplicate', message_id: messageId });
      return c.json({ status: 'accepted', message_id: messageId, users });
    } catch (error) {
      if (error instanceof ReceiverError && !(error instanceof IncompleteBodyError)) {
        answered({ outcome: error.status === 503 ? 'unavailable' : 'rejected', ...errorFields(error) });
      }
      throw error;
    }
  };
}

const errorFields = (error: ReceiverError) => ({ status: error.status, reason: error.reason });

/** What the `webhook` event shows of a batch that was read. */
function batchFields(batch: CohortBatch) {
  return {
    messageId: batch.messageId,
    cohortId: batch.cohortId,
    cohortName: batch.cohortName,
    inCohort: batch.inCohort,
    users: batch.users.length,
    userIds: firstUserIds(batch),
    computedTime: batch.computedTime,
  };
}

/** The first ids, within {@link maxEventUserIds} and {@link maxEventUserIdChars}: bounded work on the ack path. */
function firstUserIds(batch: CohortBatch): string[] {
  const ids: string[] = [];
  let chars = 0;
  for (const { userId } of batch.users.slice(0, maxEventUserIds)) {
    chars += userId.length;
    if (chars > maxEventUserIdChars) break;
    ids.push(userId);
  }
  return ids;
}

/** Keeps a rejected body's exact bytes with the reason; the sender gets its 400/422 either way. */
async function quarantine(raw: Buffer, error: ReceiverError, deps: WebhookDeps) {
  try {
    const id = await deps.deadLetters.add({
      kind: 'rejected',
      reason: `${error.reason}: ${error.message}`,
      ...keptBody(raw),
    });
    deps.events.emit('deadLettered', { kind: 'rejected', messageId: undefined });
    return id;
  } catch (quarantineError) {
    deps.logger.error({ err: quarantineError }, 'could not quarantine a rejected body');
    return undefined;
  }
}
