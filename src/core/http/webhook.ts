/**
 * @module POST {WEBHOOK_PATH}: the ack path. Read, decode, validate, accept once, answer.
 * No store I/O and no per-user work beyond validation happen here: Amplitude waits 1-2 s at most.
 */
import type { IncomingMessage } from 'node:http';
import type { Handler } from 'hono';
import type { Logger } from 'pino';
import { answerOf } from '../../inspect/deliveries/answer-of.ts';
import type { DeliveryLog } from '../../inspect/deliveries/delivery-log.ts';
import { processName } from '../../inspect/deliveries/process-name.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import type { CohortBatch } from '../batch.ts';
import { type DeadLetters, keptBody } from '../dead-letters/dead-letters.ts';
import { UnavailableError } from '../errors.ts';
import { decodeBatch, rejectionOf } from '../payload/decode-body.ts';
import type { BatchParser } from '../payload/parse-batch.ts';
import type { Queue } from '../queue/queue.ts';
import type { AppEnv } from './app-env.ts';
import { readBody } from './read-body.ts';

export interface WebhookDeps {
  queue: Queue;
  parseBatch: BatchParser;
  deadLetters: DeadLetters;
  metrics: Metrics;
  logger: Logger;
  maxBodyBytes: number;
  /** Gets a receipt for every answer but a 401 or a 500 (the inspector's deliveries). @default none */
  deliveryLog?: DeliveryLog | undefined;
}

/** The answer to a webhook the queue took: accepted, or a duplicate of one it took before. */
export interface WebhookAnswer {
  status: 200;
  body:
    | { status: 'accepted'; message_id: string; users: number }
    | { status: 'duplicate'; message_id: string };
}

/** Reads a request's body, decides, and answers: the part of a request a web framework never sees. */
export type ReceiveWebhook = (
  source: IncomingMessage | Request,
  fields: Record<string, unknown>,
) => Promise<WebhookAnswer>;

/**
 * The ack path without its transport: reads the body from `source`, decodes, accepts once, counts
 * and records a receipt, and fills in `fields` (the request's log line). Rejections are thrown as
 * the error classes `errors.ts` answers. Served by Hono (`webhookHandler`) and straight from
 * node:http (`webhook-listener.ts`), so both take exactly the same steps.
 */
export function webhookReceiver(deps: WebhookDeps): ReceiveWebhook {
  const { queue, metrics, deliveryLog } = deps;
  const receiver = processName();
  // Label sets made once: the counters look cells up by these values.
  const acceptedLabels = { outcome: 'accepted', reason: '' } as const;
  const duplicateLabels = { outcome: 'duplicate', reason: '' } as const;
  const usersIn = { direction: 'in' } as const;
  const usersOut = { direction: 'out' } as const;
  return async function receiveWebhook(source, fields) {
    const started = performance.now();
    const receivedAt = Date.now();
    let batch: CohortBatch | undefined;
    let quarantineId: string | undefined;
    try {
      const raw = await readBody(source, deps.maxBodyBytes);
      const decoded = await decodeOrQuarantine(raw, deps, fields, (id) => {
        quarantineId = id;
      });
      batch = decoded.batch;
      const messageId = batch.messageId;
      const users = batch.users.length;
      fields.message_id = messageId;
      fields.cohort_id = batch.cohortId;
      fields.users = users;
      // The raw text rides along: a durable queue keeps it rather than re-serialise the batch.
      const outcome = await queue.accept(batch, decoded.source);
      fields.outcome = outcome;
      const accepted = outcome === 'accepted';
      metrics.batches.inc(accepted ? acceptedLabels : duplicateLabels);
      const ackMs = performance.now() - started;
      metrics.ackSeconds.observe(ackMs / 1000);
      // Recorded once the answer is decided: a buffered write, no I/O and no await before the answer.
      deliveryLog?.recordReceipt({
        outcome,
        status: 200,
        messageId,
        cohortId: batch.cohortId,
        cohortName: batch.cohortName,
        inCohort: batch.inCohort,
        users,
        computedTime: batch.computedTime,
        receivedAt,
        ackMs,
        receiver,
      });
      if (!accepted) return { status: 200, body: { status: 'duplicate', message_id: messageId } };
      metrics.users.inc(batch.inCohort ? usersIn : usersOut, users);
      return { status: 200, body: { status: 'accepted', message_id: messageId, users } };
    } catch (error) {
      if (error instanceof UnavailableError) {
        metrics.batches.inc({ outcome: 'unavailable', reason: error.reason });
        fields.reason = error.reason;
      }
      const answer = answerOf(error);
      if (answer) {
        deliveryLog?.recordReceipt({
          ...answer,
          ...(batch ? batchFields(batch) : { messageId: null }),
          ...(quarantineId && { quarantineId }),
          receivedAt,
          ackMs: performance.now() - started,
          receiver,
        });
      }
      throw error;
    }
  };
}

/** POST {WEBHOOK_PATH} as a Hono route: in-process `app.request()`, and URLs node:http leaves to Hono. */
export function webhookHandler(deps: WebhookDeps): Handler<AppEnv> {
  const receive = webhookReceiver(deps);
  return async function receiveWebhook(c) {
    const answer = await receive(c.env?.incoming ?? c.req.raw, c.get('logFields'));
    return c.json(answer.body, answer.status);
  };
}

/** What a receipt shows of a refused (503) batch. */
function batchFields(batch: CohortBatch) {
  return {
    messageId: batch.messageId,
    cohortId: batch.cohortId,
    cohortName: batch.cohortName,
    inCohort: batch.inCohort,
    users: batch.users.length,
    computedTime: batch.computedTime,
  };
}

/** Turns bytes into a batch, or quarantines the body's exact bytes with the reason and rethrows. */
async function decodeOrQuarantine(
  raw: Buffer,
  deps: WebhookDeps,
  fields: Record<string, unknown>,
  onQuarantined: (letterId: string) => void,
) {
  const receivedAtMs = Date.now();
  try {
    const { batch, text } = decodeBatch(raw, deps.parseBatch, receivedAtMs);
    return { batch, source: { rawBody: text, receivedAtMs } };
  } catch (error) {
    const rejection = rejectionOf(error);
    if (rejection) {
      fields.reason = rejection.reason;
      fields.detail = (error as Error).message.slice(0, 500);
      deps.metrics.batches.inc({ outcome: 'rejected', reason: rejection.reason });
      try {
        onQuarantined(
          await deps.deadLetters.add({ kind: 'rejected', reason: rejection.summary, ...keptBody(raw) }),
        );
        deps.metrics.deadLetters.inc({ kind: 'rejected' });
      } catch (quarantineError) {
        // The sender still deserves its 400/422; losing a copy of a bad body is only logged.
        deps.logger.error({ err: quarantineError }, 'could not quarantine a rejected body');
      }
    }
    throw error;
  }
}
