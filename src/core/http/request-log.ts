/** @module One log line and one metric per request, with what the handlers learned about it. */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../../runtime/metrics.ts';
import type { AppEnv } from './app-env.ts';

export interface RequestLogDeps {
  logger: Logger;
  metrics: Metrics;
}

/**
 * The start of a request's line: the handlers add their fields after these, so no second object
 * is built at the end. The path only: a `?token=` secret must never reach the logs.
 */
export function requestLine(method: string, path: string): Record<string, unknown> {
  return { method, path, status: 0, ms: 0 };
}

/**
 * Completes `line` with the status and duration, counts the request under `route` (the route
 * pattern, not the path: user ids in paths would explode the label set) and logs it. Shared with
 * the webhook served straight from node:http, so both write the same line.
 */
export function logRequest(
  { logger, metrics }: RequestLogDeps,
  line: Record<string, unknown>,
  route: string,
  status: number,
  started: number,
): void {
  line.status = status;
  line.ms = Math.round((performance.now() - started) * 100) / 100;
  metrics.requests.inc({ route, status });
  if (status >= 500 && status !== 503) logger.error(line, 'request failed');
  else if (status >= 400) logger.warn(line, 'request rejected');
  else logger.info(line, 'request');
}

export function requestLog(deps: RequestLogDeps): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = performance.now();
    const line = requestLine(c.req.method, c.req.path);
    c.set('logFields', line);
    await next();
    logRequest(deps, line, c.req.routePath === '/*' ? 'other' : c.req.routePath, c.res.status, started);
  };
}
