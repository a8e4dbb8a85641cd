/**
 * @module What the webhook answered for an error, as a receipt records it: the same statuses as
 * `src/http/errors.ts`, and the `reason` label the metrics use.
 */
import { InvalidJsonError, PayloadError, PayloadTooLargeError, UnavailableError } from '../../core/errors.ts';
import type { DeliveryReceipt } from './delivery-log.ts';

export type Answer = Pick<DeliveryReceipt, 'outcome' | 'status' | 'reason'>;

/**
 * Undefined for an error no receipt is kept for: an incomplete body (the client left before
 * sending it, nobody reads the answer) and our own bugs (500, logged whole instead).
 */
export function answerOf(error: unknown): Answer | undefined {
  if (error instanceof UnavailableError) return { outcome: 'unavailable', status: 503, reason: error.reason };
  if (error instanceof InvalidJsonError) return { outcome: 'rejected', status: 400, reason: 'invalid_json' };
  if (error instanceof PayloadError) return { outcome: 'rejected', status: 422, reason: 'invalid_payload' };
  if (error instanceof PayloadTooLargeError) {
    return { outcome: 'rejected', status: 413, reason: 'payload_too_large' };
  }
  return undefined;
}
