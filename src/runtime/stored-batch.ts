/**
 * @module Bodies kept by earlier releases of the durable queues: those kept the normalised batch as
 * JSON (`batch`) when they had no raw body; every body is kept raw now.
 */
import type { CohortBatch } from '../core/batch.ts';
import { toDefaultShapeBody } from '../core/payload/decode-body.ts';

/** `raw`: the body as received; `batch`: `JSON.stringify` of a CohortBatch (earlier releases). */
export type StoredFormat = 'raw' | 'batch';

/** The body to hand over for a kept entry, whatever format it was kept in. */
export function queuedBody(format: StoredFormat, body: string): string {
  if (format === 'raw') return body;
  try {
    return toDefaultShapeBody(JSON.parse(body) as CohortBatch);
  } catch {
    // Not a batch after all: handed over as it is, the worker quarantines what it cannot parse.
    return body;
  }
}
