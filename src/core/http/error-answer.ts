/** @module The one place an error becomes an answer: the receiver's own errors say how, anything else is a 500. */
import type { ErrorHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { ReceiverError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

export function errorAnswer({ logger }: { logger: Logger }): ErrorHandler<AppEnv> {
  return function answerError(error, c) {
    const line = c.get('logLine');
    if (!(error instanceof ReceiverError)) {
      // Our bug: log it whole, tell the sender nothing internal.
      logger.error({ err: error, path: c.req.path }, 'unexpected error');
      return c.json({ error: 'internal' }, 500);
    }
    if (line) line.reason ??= error.reason;
    const headers = error.headers();
    for (const name in headers) c.header(name, headers[name]);
    // Answered before its body arrived (401, 413): the connection ends with this answer, once the
    // server has dropped the rest of the body, bounded (runtime/lingering-close.ts).
    const incoming = c.env?.incoming;
    if (incoming && !incoming.complete) c.header('connection', 'close');
    return c.json(error.body(), error.status as ContentfulStatusCode);
  };
}
