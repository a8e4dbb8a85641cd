/**
 * @module How the durable queues (SQLite, Redis) keep a batch: the raw body it was parsed from when
 * they have it, re-parsed by the worker, else the normalised batch as JSON.
 */
import type { CohortBatch } from '../core/batch.ts';
import { createBatchParser } from '../core/payload/parse-batch.ts';
import type { BatchSource } from '../core/queue/queue.ts';

/** `raw`: the body as received, to parse again; `batch`: `JSON.stringify` of the CohortBatch. */
export type StoredFormat = 'raw' | 'batch';

export interface StoredBatch {
  format: StoredFormat;
  body: string;
  /** When the body arrived (raw) or was accepted (batch), epoch ms. */
  receivedAtMs: number;
}

/** Turns a kept raw body back into the batch it was accepted as. */
export type BodyDecoder = (rawBody: string, receivedAtMs: number) => CohortBatch;

/** What a durable queue does with an entry it cannot turn back into a batch (set it aside). */
export type UndecodableHandler = (entry: {
  messageId: string;
  body: string;
  reason: string;
}) => Promise<void>;

/**
 * The decoder for raw bodies. The limits were checked when the body was accepted, so they are lifted
 * here: lowering MAX_USERS_PER_BATCH and restarting must not turn batches that already got their 200
 * into rejects. Only a parser that became stricter in a new release can still refuse one.
 */
export function createBodyDecoder(): BodyDecoder {
  const lifted = Number.MAX_SAFE_INTEGER;
  const parseBatch = createBatchParser({
    maxUsers: lifted,
    maxUserIdLength: lifted,
    maxProperties: lifted,
    maxIdLength: lifted,
  });
  return function decodeBody(rawBody, receivedAtMs) {
    return parseBatch(JSON.parse(rawBody), rawBody, receivedAtMs);
  };
}

/** Chooses what to keep: the raw body when there is one and a decoder to read it back. */
export function toStoredBatch(
  batch: CohortBatch,
  source: BatchSource | undefined,
  decodeBody: BodyDecoder | undefined,
  now: number,
): StoredBatch {
  if (source !== undefined && decodeBody !== undefined) {
    return { format: 'raw', body: source.rawBody, receivedAtMs: source.receivedAtMs };
  }
  return { format: 'batch', body: JSON.stringify(batch), receivedAtMs: now };
}

/** The raw body a kept batch is, if it is one. */
export function sourceOf(stored: StoredBatch): BatchSource | undefined {
  return stored.format === 'raw' ? { rawBody: stored.body, receivedAtMs: stored.receivedAtMs } : undefined;
}

/**
 * Reads a kept batch back.
 * @throws Error (a PayloadError, a SyntaxError, …) when the entry cannot be read back.
 */
export function fromStoredBatch(stored: StoredBatch, decodeBody: BodyDecoder | undefined): CohortBatch {
  if (stored.format === 'batch') return JSON.parse(stored.body) as CohortBatch;
  if (decodeBody === undefined) throw new Error('a raw body was queued but this queue has no body decoder');
  return decodeBody(stored.body, stored.receivedAtMs);
}
