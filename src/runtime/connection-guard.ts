/**
 * @module Guards the Node HTTP server against slow and abusive clients: header, request and
 * keep-alive timeouts, a cap on open connections, and JSON answers (instead of Node's empty ones)
 * to the requests Node refuses before any route sees them.
 */
import { type Server, type ServerOptions, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { throttledWarning } from './logger.ts';
import type { ClientErrorReason } from './metrics.ts';

export interface ConnectionLimits {
  /** Time for a request's headers to arrive; a slow-loris client is cut off after it. @default 10_000 */
  headersTimeoutMs: number;
  /** Time for a whole request, body included; a body that never ends is cut off after it. @default 30_000 */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open between requests. @default 5_000 */
  keepAliveTimeoutMs: number;
  /** Open connections beyond this are closed as soon as they are accepted. @default 1000 */
  maxConnections: number;
}

/**
 * The options only `http.createServer` takes. Node checks the header and request timeouts on an
 * interval (default 30 s), so a timeout is only as precise as the interval: keep it a fraction of
 * the shortest timeout.
 */
export function connectionServerOptions(limits: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

/** Sets the limits createServer does not take, and answers refused requests in JSON. */
export function guardConnections(
  server: Server,
  limits: ConnectionLimits,
  { logger, onClientError }: { logger: Logger; onClientError?: (reason: ClientErrorReason) => void },
): void {
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const warnRefused = throttledWarning(logger, 'connection refused: too many open connections');
  const warnClosed = throttledWarning(logger, 'connection closed: client error');
  server.on('drop', (dropped?: { remoteAddress?: string }) => {
    onClientError?.('max_connections');
    warnRefused({ remote: dropped?.remoteAddress, max_connections: limits.maxConnections });
  });
  server.on('clientError', function answerClientError(error: NodeJS.ErrnoException, socket: Duplex) {
    const reason = reasonFor(error.code);
    onClientError?.(reason);
    // A reset socket cannot be answered; anything else gets a status and a JSON reason, like every
    // other answer, and the connection is closed: after a parse error the stream is out of sync.
    if (reason !== 'reset') warnClosed({ code: error.code, reason });
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (reason !== 'reset' && socket.writable && !inFlight?.headersSent) socket.write(rawResponse(reason));
    socket.destroy();
  });
}

type AnsweredReason = Exclude<ClientErrorReason, 'max_connections' | 'reset'>;

function reasonFor(code: string | undefined): AnsweredReason | 'reset' {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'bad_request';
}

const statusFor = { request_timeout: 408, headers_too_large: 431, bad_request: 400 } as const;

/** A complete HTTP/1.1 response written straight to the socket: there is no response object here. */
function rawResponse(reason: AnsweredReason): string {
  const status = statusFor[reason];
  const body = JSON.stringify({ error: reason });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
