/** @module Maps the receiver's error classes to the statuses and JSON bodies in docs/design.md#webhook. */
import type { ErrorHandler } from 'hono';
import type { Logger } from 'pino';
import {
  IncompleteBodyError,
  InvalidJsonError,
  PayloadError,
  PayloadTooLargeError,
  UnavailableError,
} from '../errors.ts';
import type { AppEnv } from './app-env.ts';

export function errorResponder({ logger }: { logger: Logger }): ErrorHandler<AppEnv> {
  return function respondToError(error, c) {
    if (error instanceof PayloadTooLargeError) {
      // The rest of the body was never read: close the connection rather than drain it.
      c.header('Connection', 'close');
      return c.json({ error: 'payload_too_large', limit: error.limit }, 413);
    }
    if (error instanceof InvalidJsonError)
      return c.json({ error: 'invalid_json', detail: error.detail }, 400);
    if (error instanceof PayloadError) return c.json({ error: 'invalid_payload', issues: error.issues }, 422);
    if (error instanceof UnavailableError) {
      c.header('Retry-After', String(error.retryAfterSeconds));
      return c.json({ error: 'unavailable', reason: error.reason }, 503);
    }
    if (error instanceof IncompleteBodyError) {
      // The client is gone; the status only classifies the request in the log and metrics.
      c.get('logFields').reason = 'incomplete_body';
      return c.json({ error: 'incomplete_body' }, 400);
    }
    // Anything else is our bug: log it whole, tell the sender nothing internal.
    logger.error({ err: error, path: c.req.path }, 'unexpected error');
    return c.json({ error: 'internal' }, 500);
  };
}
