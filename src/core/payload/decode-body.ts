/**
 * @module Bytes to a cohort batch, as the webhook does it: UTF-8, then JSON, then the parser. Shared
 * with `dlq replay`, so a quarantined body is judged again by the very steps that rejected it.
 */
import { isUtf8 } from 'node:buffer';
import { InvalidJsonError, PayloadError } from '../errors.ts';
import type { BatchParser } from './parse-batch.ts';

/** Throws InvalidJsonError (400) or PayloadError (422); `text` is the body as the queue keeps it. */
export function decodeBatch(raw: Buffer, parseBatch: BatchParser, receivedAtMs: number) {
  if (!isUtf8(raw)) throw new InvalidJsonError('body is not valid UTF-8');
  const text = raw.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError((error as Error).message);
  }
  return { batch: parseBatch(json, text, receivedAtMs), text };
}

/** The `error` of a 400 or 422 answer and the `reason` label of its metric. */
export const rejectionReasons = ['invalid_json', 'invalid_payload'] as const;

export interface Rejection {
  reason: (typeof rejectionReasons)[number];
  /** `reason: message`, as a quarantined letter's reason reads. */
  summary: string;
}

/** What a decoding error means to the sender; undefined for anything that is not a rejection. */
export function rejectionOf(error: unknown): Rejection | undefined {
  if (!(error instanceof InvalidJsonError || error instanceof PayloadError)) return undefined;
  const reason = error instanceof InvalidJsonError ? 'invalid_json' : 'invalid_payload';
  return { reason, summary: `${reason}: ${error.message}` };
}
