/** @module One log line and one `request` event per request, with what the handlers learned about it. */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { ReceiverEvents } from '../events.ts';
import type { AppEnv } from './app-env.ts';

/**
 * What browsers ask for by themselves on any page they show (a JSON answer, /metrics): a 404 there
 * is no client doing anything wrong, so it is logged at debug rather than warn.
 */
const browserProbe = /^\/(?:favicon\.ico|apple-touch-icon(?:-precomposed)?\.png)$/;

export function requestLog({
  logger,
  events,
}: {
  logger: Logger;
  events: ReceiverEvents;
}): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = performance.now();
    // The path only: a `?token=` secret must never reach the logs. Handlers add their fields after these.
    const line: Record<string, unknown> = { method: c.req.method, path: c.req.path, status: 0, ms: 0 };
    c.set('logLine', line);
    await next();
    const { status } = c.res;
    const ms = Math.round((performance.now() - started) * 100) / 100;
    line.status = status;
    line.ms = ms;
    // The route pattern, not the path: user ids in paths would explode a metric's label set.
    events.emit('request', { route: c.req.routePath === '/*' ? 'other' : c.req.routePath, status, ms });
    if (status >= 500 && status !== 503) logger.error(line, 'request failed');
    else if (status === 404 && browserProbe.test(c.req.path)) logger.debug(line, 'request rejected');
    else if (status >= 400) logger.warn(line, 'request rejected');
    else logger.info(line, 'request');
  };
}
