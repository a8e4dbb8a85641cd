/**
 * @module The edge normaliser: every accepted payload shape (docs/design.md#payloads) becomes one
 * CohortBatch here, so the rest of the code never sees Amplitude's wire format.
 */
import type { CohortBatch } from '../batch.ts';
import { PayloadError } from '../errors.ts';
import { createDefaultShapeParser } from './default-shape.ts';
import { describeType, isJsonObject } from './issues.ts';
import { type PayloadLimits, resolvePayloadLimits } from './limits.ts';
import { parsePerUserFlags } from './per-user-flags.ts';

export { defaultPayloadLimits, type PayloadLimits } from './limits.ts';

/**
 * Normalises one already-`JSON.parse`d body. `rawBody` is the exact text received (the per-user
 * flag list's dedupe key is its SHA-256); `receivedAtMs` is the receive time (the flag list's
 * computedTime).
 * @throws PayloadError listing where and why the body is not a cohort batch (at most ~20 issues).
 */
export type BatchParser = (json: unknown, rawBody: string, receivedAtMs: number) => CohortBatch;

/**
 * Creates the parser for the webhook's ack path. The body's shape picks the adapter: an object is
 * Amplitude's default shape, an array the per-user flag list.
 * @throws TypeError when a limit is not a positive integer.
 */
export function createBatchParser(limits: Partial<PayloadLimits> = {}): BatchParser {
  const resolvedLimits = resolvePayloadLimits(limits);
  const parseDefaultShape = createDefaultShapeParser(resolvedLimits);
  return function parseBatch(json, rawBody, receivedAtMs) {
    if (Array.isArray(json)) return parsePerUserFlags(json, rawBody, receivedAtMs, resolvedLimits);
    if (isJsonObject(json)) return parseDefaultShape(json);
    throw new PayloadError([
      {
        path: '',
        message: `expected a JSON object (Amplitude's default shape) or an array (the per-user flag list), got ${describeType(json)}`,
      },
    ]);
  };
}
