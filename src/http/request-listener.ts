/**
 * @module The node:http request listener: a POST to the webhook path goes straight to the
 * webhook (webhook-listener.ts), every other request to the Hono app through @hono/node-server.
 */
import type { RequestListener } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { ServeWebhook } from './webhook-listener.ts';

export interface RequestListenerOptions {
  /** The Hono app's `fetch`, which serves everything the webhook listener does not. */
  fetch: Parameters<typeof getRequestListener>[0];
  /** The host a request without a `Host` header is taken to name (as @hono/node-server's `serve`). */
  hostname: string;
  /** Absent in a ROLE=worker process, which takes no webhooks. */
  webhook?: { path: string; serve: ServeWebhook } | undefined;
}

/**
 * The requests @hono/node-server would serve with their URL as they came, without normalising
 * it (its src/url.ts): a host name with at most a port, and a target of plain characters with no
 * `.` or `..` segment. Only those take the webhook listener; any other request to the webhook
 * (percent-encoded, an absolute URL, an odd or missing Host) goes to Hono's route for the same
 * webhook, which validates and normalises it as it always has.
 */
const plainHost = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const plainTarget = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const dotSegment = /\/\.\.?(?:[/?#]|$)/;

/** A WEBHOOK_PATH the listener can compare requests with as they come: plain, and no query. */
function plainPath(path: string): boolean {
  return plainTarget.test(path) && !dotSegment.test(path) && !path.includes('?') && !path.includes('#');
}

export function requestListener({ fetch, hostname, webhook }: RequestListenerOptions): RequestListener {
  const rest = getRequestListener(fetch, { hostname });
  if (webhook === undefined || !plainPath(webhook.path)) return rest;
  const { path, serve } = webhook;
  const withQuery = `${path}?`;
  return function routeRequest(incoming, outgoing) {
    const target = incoming.url ?? '';
    const host = incoming.headers.host;
    if (
      incoming.method === 'POST' &&
      host !== undefined &&
      (target === path ||
        (target.startsWith(withQuery) && plainTarget.test(target) && !dotSegment.test(target))) &&
      plainHost.test(host)
    ) {
      // The URL Hono builds, for a `?token=`; without a query the path alone says as much.
      serve(incoming, outgoing, target === path ? path : `http://${host}${target}`);
      return;
    }
    rest(incoming, outgoing);
  };
}
