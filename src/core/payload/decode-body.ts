/**
 * @module Bytes to a cohort batch, as the webhook does it (UTF-8, JSON, then the parser), and back:
 * a queued body read again by the worker, and a batch written as Amplitude's default shape.
 */
import { isUtf8 } from 'node:buffer';
import type { CohortBatch } from '../batch.ts';
import { InvalidJsonError } from '../errors.ts';
import { type BatchParser, createBatchParser } from './parse-batch.ts';

/** Throws InvalidJsonError (400) or PayloadError (422); `text` is the body as queues keep it. */
export function decodeBatch(raw: Buffer, parseBatch: BatchParser, receivedAt: number) {
  if (!isUtf8(raw)) throw new InvalidJsonError('body is not valid UTF-8');
  const text = raw.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError((error as Error).message);
  }
  return { batch: parseBatch(json, text, receivedAt), text };
}

/** A queued body that no longer parses: only a parser grown stricter since it was accepted. */
export class UndecodableBodyError extends Error {
  override name = 'UndecodableBodyError';
}

/** Reads a queued body back into the batch it was accepted as. */
export type QueuedBodyDecoder = (body: string, receivedAt: number) => CohortBatch;

/**
 * The limits were checked when the body was accepted, so they are lifted here: lowering
 * MAX_USERS_PER_BATCH and restarting must not turn batches that already got their 200 into rejects.
 */
export function createQueuedBodyDecoder(): QueuedBodyDecoder {
  const lifted = Number.MAX_SAFE_INTEGER;
  const parseBatch = createBatchParser({
    maxUsers: lifted,
    maxUserIdLength: lifted,
    maxProperties: lifted,
    maxIdLength: lifted,
  });
  return function decodeQueuedBody(body, receivedAt) {
    try {
      return parseBatch(JSON.parse(body), body, receivedAt);
    } catch (error) {
      throw new UndecodableBodyError((error as Error).message, { cause: error });
    }
  };
}

/**
 * `batch` as a body in Amplitude's default shape, which decodes back to the same batch: how a batch
 * known only in its normalised form (a `failed` dead letter) goes back into a queue.
 */
export function toDefaultShapeBody(batch: CohortBatch): string {
  return JSON.stringify({
    cohort_name: batch.cohortName,
    cohort_id: batch.cohortId,
    in_cohort: batch.inCohort,
    computed_time: String(batch.computedTime),
    message_id: batch.messageId,
    users: batch.users.map((user) =>
      user.properties === undefined
        ? { user_id: user.userId }
        : { user_id: user.userId, user_properties: user.properties },
    ),
  });
}
