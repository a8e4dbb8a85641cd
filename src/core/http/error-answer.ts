/** @module Maps the receiver's error classes to the statuses and JSON bodies in docs/design.md#webhook. */
import type { ErrorHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import {
  IncompleteBodyError,
  InvalidJsonError,
  PayloadError,
  PayloadTooLargeError,
  UnavailableError,
} from '../errors.ts';
import type { AppEnv } from './app-env.ts';

/** A JSON answer to an error. `headers` have lower-case names, as a Web `Headers` keeps them. */
export interface ErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/**
 * The answer to `error`, shared by Hono's error handler and the webhook served straight from
 * node:http (webhook-listener.ts), so both answer alike. Fills in `fields`, the request's log line.
 */
export function errorAnswer(
  error: unknown,
  { logger, path, fields }: { logger: Logger; path: string; fields: Record<string, unknown> },
): ErrorAnswer {
  if (error instanceof PayloadTooLargeError) {
    // The rest of the body was never read: close the connection rather than drain it.
    return {
      status: 413,
      body: { error: 'payload_too_large', limit: error.limit },
      headers: { connection: 'close' },
    };
  }
  if (error instanceof InvalidJsonError)
    return { status: 400, body: { error: 'invalid_json', detail: error.detail } };
  if (error instanceof PayloadError)
    return { status: 422, body: { error: 'invalid_payload', issues: error.issues } };
  if (error instanceof UnavailableError) {
    return {
      status: 503,
      body: { error: 'unavailable', reason: error.reason },
      headers: { 'retry-after': String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof IncompleteBodyError) {
    // The client is gone; the status only classifies the request in the log and metrics.
    fields.reason = 'incomplete_body';
    return { status: 400, body: { error: 'incomplete_body' } };
  }
  // Anything else is our bug: log it whole, tell the sender nothing internal.
  logger.error({ err: error, path }, 'unexpected error');
  return { status: 500, body: { error: 'internal' } };
}

export function errorResponder({ logger }: { logger: Logger }): ErrorHandler<AppEnv> {
  return function respondToError(error, c) {
    const answer = errorAnswer(error, { logger, path: c.req.path, fields: c.get('logFields') });
    if (answer.headers) for (const name in answer.headers) c.header(name, answer.headers[name]);
    return c.json(answer.body, answer.status as ContentfulStatusCode);
  };
}
