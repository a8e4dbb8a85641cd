/**
 * @module Lingering close. An answer given before the request's body arrived (413 over the limit,
 * 401 without the secret) closes the connection; but a socket closed with unread bytes makes the
 * kernel send a reset, and a client still writing its body then fails (EPIPE, ECONNRESET) before
 * it reads the answer. So, as nginx and Apache do, the rest of the body is read and dropped, up to
 * a bound in bytes and a pause in sending, and the connection closes once the body has ended.
 * The whole request's time stays bounded by REQUEST_TIMEOUT_MS, as for any request.
 */
import type { IncomingMessage, Server } from 'node:http';
import { Socket } from 'node:net';

export interface LingerLimits {
  /** Bytes read and dropped after the answer before the connection is cut. */
  maxBytes: number;
  /** Time the client may send nothing before the connection is cut. */
  idleTimeoutMs: number;
}

/** Why a connection was cut while its body was being dropped, and how much of it was. */
export interface LingerCut {
  socket: Socket;
  cause: 'bytes' | 'time' | 'client_error';
  discardedBytes: number;
  lingeredMs: number;
}

export interface Lingering {
  /** Whether `socket` is dropping a body after its answer. */
  has(socket: Socket): boolean;
  /** The connection lingering the longest. */
  oldest(): Socket | undefined;
  /** Cuts a lingering connection now and reports it; false if it was not lingering. */
  cut(socket: Socket, cause: LingerCut['cause']): boolean;
  /** Stops lingering on `socket` without closing it or reporting it: the caller does both. */
  release(socket: Socket): void;
}

interface Linger {
  startBytes: number;
  startedAt: number;
  check: NodeJS.Timeout;
}

/** How often the bytes read while lingering are checked against the bounds. */
const checkEveryMs = 50;

/**
 * Makes every connection of `server` linger when it closes before its request's body ended.
 * Node's HTTP server closes a connection after its last answer with `socket.destroySoon()`: each
 * socket gets its own, which drops the rest of the body first.
 */
export function lingerOnClose(
  server: Server,
  limits: LingerLimits,
  onCut: (cut: LingerCut) => void,
): Lingering {
  const lastRequest = new WeakMap<Socket, IncomingMessage>();
  const lingering = new Map<Socket, Linger>();

  const stop = (socket: Socket) => {
    const linger = lingering.get(socket);
    if (linger === undefined) return undefined;
    lingering.delete(socket);
    clearInterval(linger.check);
    return linger;
  };
  const cut = (socket: Socket, cause: LingerCut['cause']) => {
    const linger = stop(socket);
    if (linger === undefined) return false;
    // Reported first: a destroyed socket no longer knows its peer's address.
    onCut({
      socket,
      cause,
      discardedBytes: socket.bytesRead - linger.startBytes,
      lingeredMs: Math.round(performance.now() - linger.startedAt),
    });
    socket.destroy();
    return true;
  };

  function lingerThenClose(this: Socket) {
    if (lingering.has(this)) return;
    const request = lastRequest.get(this);
    if (request === undefined || request.complete || this.destroyed) {
      Socket.prototype.destroySoon.call(this);
      return;
    }
    const startBytes = this.bytesRead;
    let seenBytes = startBytes;
    let seenAt = performance.now();
    const check = setInterval(() => {
      const now = performance.now();
      if (this.bytesRead - startBytes > limits.maxBytes) cut(this, 'bytes');
      else if (this.bytesRead > seenBytes) [seenBytes, seenAt] = [this.bytesRead, now];
      else if (now - seenAt > limits.idleTimeoutMs) cut(this, 'time');
    }, checkEveryMs).unref();
    lingering.set(this, { startBytes, startedAt: seenAt, check });
    // The whole body read: nothing unread is left to turn the close into a reset.
    request.once('end', () => {
      if (stop(this)) Socket.prototype.destroySoon.call(this);
    });
    this.once('close', () => stop(this));
    // Flowing with no reader: each chunk is dropped as it is parsed (a request Node already
    // dumped drops them before they reach the stream).
    request.resume();
  }

  server.prependListener('request', (request: IncomingMessage) => lastRequest.set(request.socket, request));
  server.on('connection', (socket: Socket) => {
    socket.destroySoon = lingerThenClose;
  });
  return {
    has: (socket) => lingering.has(socket),
    oldest: () => lingering.keys().next().value,
    cut,
    release: (socket) => void stop(socket),
  };
}
