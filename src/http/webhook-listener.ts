/**
 * @module POST {WEBHOOK_PATH} served straight from node:http's request and response: the same
 * steps as the Hono route (request log, auth, `webhookReceiver`, the error answers), without a
 * Web Request, a Response or Hono's dispatch, which cost the ack path more than its auth, log line
 * and metrics together (docs/performance.md#the-ack-path-at-the-floor-2026-12-01).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorAnswer, errorAnswer } from '../core/http/error-answer.ts';
import { logRequest, type RequestLogDeps, requestLine } from '../core/http/request-log.ts';
import { secretCheck } from '../core/http/require-auth.ts';
import { type WebhookDeps, webhookReceiver } from '../core/http/webhook.ts';
import { drainUnreadBody } from './drain-unread-body.ts';

export interface WebhookListenerDeps extends WebhookDeps, RequestLogDeps {
  webhookPath: string;
  auth: { tokens: string[]; header: string };
}

/**
 * Serves one POST to the webhook path. `url` is read only for a `?token=`: the URL Hono would
 * have built (`http://<host><path>?…`) when there is a query, else just the path.
 */
export type ServeWebhook = (incoming: IncomingMessage, outgoing: ServerResponse, url: string) => void;

export function webhookListener(deps: WebhookListenerDeps): ServeWebhook {
  const { webhookPath: path, logger } = deps;
  const receive = webhookReceiver(deps);
  const carriesSecret = secretCheck(deps.auth);
  // Node's header map has lower-case names only.
  const secretHeader = deps.auth.header.toLowerCase();
  return function serveWebhook(incoming, outgoing, url) {
    const started = performance.now();
    const line = requestLine('POST', path);
    const answer = (status: number, body: Record<string, unknown>, headers?: ErrorAnswer['headers']) => {
      // Logged before the write, as the Hono route logs before @hono/node-server writes.
      logRequest(deps, line, path, status, started);
      writeJson(outgoing, status, body, headers);
      // A body left unread (a 401, a 413) is drained or cut off as @hono/node-server does.
      if (!incoming.readableEnded) drainUnreadBody(incoming, outgoing);
    };
    const answerError = (error: unknown) => {
      const { status, body, headers } = errorAnswer(error, { logger, path, fields: line });
      answer(status, body, headers);
    };
    try {
      if (carriesSecret !== undefined && !carriesSecret(incoming.headers[secretHeader], url)) {
        line.reason = 'unauthorized';
        answer(401, unauthorized);
        return;
      }
      receive(incoming, line)
        .then((ok) => answer(ok.status, ok.body), answerError)
        .catch((error: unknown) => {
          // Reached only if answering itself failed: log it, and drop the connection rather than leave it hanging.
          logger.error({ err: error, path }, 'unexpected error');
          outgoing.destroy();
        });
    } catch (error) {
      answerError(error);
    }
  };
}

const unauthorized = { error: 'unauthorized' };

/**
 * Writes a JSON answer with the very bytes @hono/node-server writes for `c.json`: without extra
 * headers, `Content-Type` and Node's own length; with them (a Web `Headers` there), every name in
 * lower case and in order, then `Content-Length`.
 */
function writeJson(
  outgoing: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: ErrorAnswer['headers'],
): void {
  const text = JSON.stringify(body);
  if (headers === undefined) {
    outgoing.statusCode = status;
    outgoing.setHeader('Content-Type', 'application/json');
    outgoing.end(text);
    return;
  }
  const all: Record<string, string | number> = {};
  const named: Record<string, string> = { 'content-type': 'application/json', ...headers };
  for (const name of Object.keys(named).sort()) all[name] = named[name] as string;
  all['Content-Length'] = Buffer.byteLength(text);
  outgoing.writeHead(status, all);
  outgoing.end(text);
}
