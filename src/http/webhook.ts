/**
 * @module POST {WEBHOOK_PATH}: the ack path. Read, decode, validate, accept once, answer.
 * No store I/O and no per-user work beyond validation happen here: Amplitude waits 1-2 s at most.
 */
import type { Handler } from 'hono';
import type { Logger } from 'pino';
import type { CohortBatch } from '../batch.ts';
import { type DeadLetters, keptBody } from '../dead-letters/letters.ts';
import { answerOf } from '../deliveries/answer-of.ts';
import type { DeliveryLog, DeliveryReceipt } from '../deliveries/delivery-log.ts';
import { processName } from '../deliveries/process-name.ts';
import { UnavailableError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
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

export function webhookHandler(deps: WebhookDeps): Handler<AppEnv> {
  const { queue, metrics, deliveryLog } = deps;
  const receiver = processName();
  return async function receiveWebhook(c) {
    const started = performance.now();
    const receivedAt = Date.now();
    // Recorded once the answer is decided: a buffered write, no I/O and no await before the answer.
    const record = (receipt: Omit<DeliveryReceipt, 'receivedAt' | 'ackMs' | 'receiver'>) =>
      deliveryLog?.recordReceipt({ ...receipt, receivedAt, ackMs: performance.now() - started, receiver });
    const fields = c.get('logFields');
    let batch: CohortBatch | undefined;
    let quarantineId: string | undefined;
    try {
      const raw = await readBody(c.req.raw, c.env?.incoming, deps.maxBodyBytes);
      const decoded = await decodeOrQuarantine(raw, deps, fields, (id) => {
        quarantineId = id;
      });
      batch = decoded.batch;
      fields.message_id = batch.messageId;
      fields.cohort_id = batch.cohortId;
      fields.users = batch.users.length;
      // The raw text rides along: a durable queue keeps it rather than re-serialise the batch.
      const outcome = await queue.accept(batch, decoded.source);
      fields.outcome = outcome;
      metrics.batches.inc({ outcome, reason: '' });
      metrics.ackSeconds.observe((performance.now() - started) / 1000);
      record({ outcome, status: 200, ...batchFields(batch) });
      if (outcome === 'duplicate') return c.json({ status: 'duplicate', message_id: batch.messageId });
      metrics.users.inc({ direction: batch.inCohort ? 'in' : 'out' }, batch.users.length);
      return c.json({ status: 'accepted', message_id: batch.messageId, users: batch.users.length });
    } catch (error) {
      if (error instanceof UnavailableError) {
        metrics.batches.inc({ outcome: 'unavailable', reason: error.reason });
        fields.reason = error.reason;
      }
      const answer = answerOf(error);
      if (answer) {
        record({
          ...answer,
          ...(batch ? batchFields(batch) : { messageId: null }),
          ...(quarantineId && { quarantineId }),
        });
      }
      throw error;
    }
  };
}

/** What a receipt shows of an accepted, duplicate or refused (503) batch. */
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
