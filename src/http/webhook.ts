/**
 * @module POST {WEBHOOK_PATH}: the ack path. Read, decode, validate, accept once, answer.
 * No store I/O and no per-user work beyond validation happen here: Amplitude waits 1-2 s at most.
 */
import { isUtf8 } from 'node:buffer';
import type { Handler } from 'hono';
import type { Logger } from 'pino';
import type { CohortBatch } from '../batch.ts';
import { InvalidJsonError, PayloadError, UnavailableError } from '../errors.ts';
import type { DeadLetters } from '../letters/letters.ts';
import { truncateBody } from '../letters/letters.ts';
import type { Metrics } from '../metrics.ts';
import type { Queue } from '../queue/queue.ts';
import type { AppEnv } from './app-env.ts';
import { readBody } from './read-body.ts';

export interface WebhookDeps {
  queue: Queue;
  parseBatch: (json: unknown, rawBody: string, receivedAtMs: number) => CohortBatch;
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

/** Turns bytes into a batch, or keeps the body in the quarantine with its reason and rethrows. */
async function decodeOrQuarantine(raw: Buffer, deps: WebhookDeps, fields: Record<string, unknown>) {
  const text = raw.toString('utf8');
  try {
    if (!isUtf8(raw)) throw new InvalidJsonError('body is not valid UTF-8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new InvalidJsonError((error as Error).message);
    }
    const receivedAtMs = Date.now();
    return { batch: deps.parseBatch(json, text, receivedAtMs), source: { rawBody: text, receivedAtMs } };
  } catch (error) {
    if (error instanceof InvalidJsonError || error instanceof PayloadError) {
      const reason = error instanceof InvalidJsonError ? 'invalid_json' : 'invalid_payload';
      fields.reason = reason;
      fields.detail = error.message.slice(0, 500);
      deps.metrics.batches.inc({ outcome: 'rejected', reason });
      try {
        await deps.deadLetters.add({
          kind: 'rejected',
          reason: `${reason}: ${error.message}`,
          ...truncateBody(text),
        });
        deps.metrics.deadLetters.inc({ kind: 'rejected' });
      } catch (quarantineError) {
        // The sender still deserves its 400/422; losing a copy of a bad body is only logged.
        deps.logger.error({ err: quarantineError }, 'could not quarantine a rejected body');
      }
    }
    throw error;
  }
}
