/** @module 405 for a known path asked with a method it does not serve (RFC 9110 section 15.5.6). */
import type { Handler } from 'hono';
import type { AppEnv } from './app-env.ts';

/** Answers 405 with `Allow` and a JSON body; the request log line and metric carry the reason. */
export function methodNotAllowed(allowed: string[]): Handler<AppEnv> {
  const allow = allowed.join(', ');
  return function answerMethodNotAllowed(c) {
    c.get('logFields').reason = 'method_not_allowed';
    c.header('Allow', allow);
    return c.json({ error: 'method_not_allowed', allowed }, 405);
  };
}
