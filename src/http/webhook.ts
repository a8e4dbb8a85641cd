/**
 * @module POST {WEBHOOK_PATH}: the ack path. Read, decode, validate, accept once, answer.
 * No store I/O and no per-user work beyond validation happen here: Amplitude waits 1-2 s at most.
 */
import type { Handler } from 'hono';
import type { Logger } from 'pino';
import { type DeadLetters, keptBody } from '../dead-letters/letters.ts';
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
}

export function webhookHandler(deps: WebhookDeps): Handler<AppEnv> {
  const { queue, metrics } = deps;
  return async function receiveWebhook(c) {
    const started = performance.now();
    const fields = c.get('logFields');
    const raw = await readBody(c.req.raw, c.env?.incoming, deps.maxBodyBytes);
    const { batch, source } = await decodeOrQuarantine(raw, deps, fields);
    fields.message_id = batch.messageId;
    fields.cohort_id = batch.cohortId;
    fields.users = batch.users.length;
    let outcome: Awaited<ReturnType<Queue['accept']>>;
    try {
      // The raw text rides along: a durable queue keeps it rather than re-serialise the batch.
      outcome = await queue.accept(batch, source);
    } catch (error) {
      if (error instanceof UnavailableError) {
        metrics.batches.inc({ outcome: 'unavailable', reason: error.reason });
        fields.reason = error.reason;
      }
      throw error;
    }
    fields.outcome = outcome;
    metrics.batches.inc({ outcome, reason: '' });
    metrics.ackSeconds.observe((performance.now() - started) / 1000);
    if (outcome === 'duplicate') return c.json({ status: 'duplicate', message_id: batch.messageId });
    metrics.users.inc({ direction: batch.inCohort ? 'in' : 'out' }, batch.users.length);
    return c.json({ status: 'accepted', message_id: batch.messageId, users: batch.users.length });
  };
}

/** Turns bytes into a batch, or quarantines the body's exact bytes with the reason and rethrows. */
async function decodeOrQuarantine(raw: Buffer, deps: WebhookDeps, fields: Record<string, unknown>) {
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
        await deps.deadLetters.add({ kind: 'rejected', reason: rejection.summary, ...keptBody(raw) });
        deps.metrics.deadLetters.inc({ kind: 'rejected' });
      } catch (quarantineError) {
        // The sender still deserves its 400/422; losing a copy of a bad body is only logged.
        deps.logger.error({ err: quarantineError }, 'could not quarantine a rejected body');
      }
    }
    throw error;
  }
}
