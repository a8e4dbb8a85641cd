/**
 * @module Guards the Node HTTP server against slow and abusive clients: header, request and
 * keep-alive timeouts, room kept for new connections (connection-room.ts), refused bodies dropped
 * before the connection closes (lingering-close.ts), and JSON answers (instead of Node's empty
 * ones) to the requests Node refuses before any route sees them.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { keepRoom, type RoomClose } from './connection-room.ts';
import { lingerOnClose } from './lingering-close.ts';
import { throttledWarning } from './logger.ts';
import type { ClientErrorReason } from './metrics.ts';
import { rawAnswer } from './raw-answer.ts';

export interface ConnectionLimits {
  /** Time for a request's headers to arrive; a slow-loris client is cut off after it. @default 10_000 */
  headersTimeoutMs: number;
  /** Time for a whole request, body included; a body that never ends is cut off after it. @default 30_000 */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open between requests. @default 5_000 */
  keepAliveTimeoutMs: number;
  /** Open connections; beyond it a new one takes the place of an idle one, or is refused. @default 1000 */
  maxConnections: number;
  /** Time a new connection has to send its first byte. @default 3_000 */
  firstByteTimeoutMs: number;
  /**
   * Bytes of a body refused before it was read (413, 401) dropped after the answer, before the
   * connection is cut. @default 4 × MAX_BODY_BYTES (lingerLimits)
   */
  lingerMaxBytes: number;
  /** Time the client of such an answer may pause sending before the connection is cut. @default 5_000 */
  lingerIdleTimeoutMs: number;
}

/**
 * The bounds on dropping a refused body: a few times the largest body accepted, so a client that
 * overshot the limit reads its 413 instead of a reset, and a pause of a few seconds, as nginx's
 * lingering_timeout; REQUEST_TIMEOUT_MS bounds the whole request, as for any other.
 */
export function lingerLimits(
  maxBodyBytes: number,
): Pick<ConnectionLimits, 'lingerMaxBytes' | 'lingerIdleTimeoutMs'> {
  return { lingerMaxBytes: 4 * maxBodyBytes, lingerIdleTimeoutMs: 5_000 };
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
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const warnCut = throttledWarning(logger, 'connection cut off while dropping a refused body');
  const lingering = lingerOnClose(
    server,
    { maxBytes: limits.lingerMaxBytes, idleTimeoutMs: limits.lingerIdleTimeoutMs },
    ({ socket, cause, discardedBytes, lingeredMs }) => {
      onClientError?.('discard_limit');
      warnCut({
        remote: socket.remoteAddress,
        cause,
        discarded_bytes: discardedBytes,
        lingered_ms: lingeredMs,
      });
    },
  );
  const warnRoom = roomWarnings(logger, limits);
  keepRoom(server, limits, {
    lingering,
    onClose: (closed) => {
      onClientError?.(closed.reason);
      warnRoom[closed.reason](closed);
    },
  });
  const warnClosed = throttledWarning(logger, 'connection closed: client error');
  server.on('clientError', function answerClientError(error: NodeJS.ErrnoException, socket: Duplex) {
    // Already answered: the request timed out, or broke, while its refused body was being dropped.
    if (
      lingering.cut(socket as Socket, error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'time' : 'client_error')
    ) {
      return;
    }
    const reason = reasonFor(error.code);
    onClientError?.(reason);
    // A reset socket cannot be answered; anything else gets a status and a JSON reason, like every
    // other answer, and the connection is closed: after a parse error the stream is out of sync.
    if (reason !== 'reset') warnClosed({ code: error.code, reason });
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (reason !== 'reset' && socket.writable && !inFlight?.headersSent) {
      socket.write(rawAnswer(statusFor[reason], { error: reason }));
    }
    socket.destroy();
  });
}

/** One throttled warning per rule of connection-room.ts. */
function roomWarnings(logger: Logger, limits: ConnectionLimits) {
  const idle = throttledWarning(logger, 'connection closed: nothing sent within FIRST_BYTE_TIMEOUT_MS');
  const evicted = throttledWarning(logger, 'connection closed to make room for a new one');
  const refused = throttledWarning(logger, 'connection refused: too many open connections');
  return {
    idle_timeout: ({ socket }: RoomClose) =>
      idle({ remote: socket.remoteAddress, first_byte_timeout_ms: limits.firstByteTimeoutMs }),
    evicted: (closed: RoomClose) =>
      evicted({
        remote: closed.socket.remoteAddress,
        state: closed.reason === 'evicted' ? closed.state : undefined,
        max_connections: limits.maxConnections,
      }),
    max_connections: ({ socket }: RoomClose) =>
      refused({ remote: socket.remoteAddress, max_connections: limits.maxConnections }),
  };
}

type AnsweredReason = 'request_timeout' | 'headers_too_large' | 'bad_request';

function reasonFor(code: string | undefined): AnsweredReason | 'reset' {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'bad_request';
}

const statusFor = { request_timeout: 408, headers_too_large: 431, bad_request: 400 } as const;
