/** @module One log line and one metric per request, with what the handlers learned about it. */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { AppEnv } from './app-env.ts';

export function requestLog({
  logger,
  metrics,
}: {
  logger: Logger;
  metrics: Metrics;
}): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = performance.now();
    // The line itself, filled in as the request goes: the handlers add their fields after these,
    // so no second object is built at the end. The path only: a `?token=` secret must never
    // reach the logs.
    const line: Record<string, unknown> = { method: c.req.method, path: c.req.path, status: 0, ms: 0 };
    c.set('logFields', line);
    await next();
    const status = c.res.status;
    line.status = status;
    line.ms = Math.round((performance.now() - started) * 100) / 100;
    // The route pattern, not the path: user ids in paths would explode the label set.
    const route = c.req.routePath === '/*' ? 'other' : c.req.routePath;
    metrics.requests.inc({ route, status });
    if (status >= 500 && status !== 503) logger.error(line, 'request failed');
    else if (status >= 400) logger.warn(line, 'request rejected');
    else logger.info(line, 'request');
  };
}
