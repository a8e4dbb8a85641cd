/**
 * @module The HTTP server: every request through Hono, served by @hono/node-server, with the
 * connection limits that keep slow and abusive clients from holding it (connection-guard.ts).
 */
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import { type ConnectionLimits, connectionServerOptions, guardConnections } from './connection-guard.ts';
import type { ClientErrorReason } from './metrics.ts';

/** What serves requests: a Hono app, or anything with its `fetch`. */
export interface Fetcher {
  fetch(request: Request, env?: unknown, executionContext?: unknown): Response | Promise<Response>;
}

export interface ListenOptions {
  port: number;
  host: string;
  limits: ConnectionLimits;
  logger: Logger;
  onClientError: (reason: ClientErrorReason) => void;
}

/**
 * The app's fetch, with separate apps chosen by path prefix before any routing: the inspector's
 * routes would otherwise move Hono off its fastest router for every route, the webhook included.
 */
export function withMounts(main: Fetcher, mounts: readonly { path: string; app: Fetcher }[]) {
  return (request: Request, env?: unknown, executionContext?: unknown) => {
    for (const mount of mounts) {
      if (underPath(request.url, mount.path)) return mount.app.fetch(request, env, executionContext);
    }
    return main.fetch(request, env, executionContext);
  };
}

/** Whether `url`'s path is `path` or below it, read without parsing the URL. */
function underPath(url: string, path: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0 || !url.startsWith(path, start)) return false;
  const next = url.charCodeAt(start + path.length);
  return Number.isNaN(next) || next === 47 || next === 63 || next === 35; // end, '/', '?', '#'
}

export function listen(fetch: Fetcher['fetch'], options: ListenOptions): Promise<Server> {
  const server = createAdaptorServer({
    fetch,
    hostname: options.host,
    serverOptions: connectionServerOptions(options.limits),
  }) as Server;
  guardConnections(server, options.limits, options);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Where this process can reach its own server: an any-address means loopback; IPv6 in brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
