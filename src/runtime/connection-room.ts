/**
 * @module Keeps room for new connections. A connection that sends nothing is closed after
 * FIRST_BYTE_TIMEOUT_MS, and at MAX_CONNECTIONS a new connection takes the place of one that is
 * doing nothing for anyone, instead of being refused: clients that open connections and send
 * nothing (or dribble) cannot starve Amplitude, the probes or the operators.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Lingering } from './lingering-close.ts';
import { rawAnswer } from './raw-answer.ts';

export interface RoomLimits {
  maxConnections: number;
  /** Time a new connection has to send its first byte. */
  firstByteTimeoutMs: number;
}

/**
 * What a connection was doing when it was closed to make room, in the order they give way:
 * nothing sent yet, dropping a refused body after its answer, a request head arriving (a slow
 * loris, when no silent connection is left), idle between requests (keep-alive).
 */
export type RoomState = 'silent' | 'lingering' | 'partial' | 'idle';

/** A connection closed by these rules: why, and what it was doing. */
export type RoomClose =
  | { reason: 'idle_timeout'; socket: Socket }
  | { reason: 'evicted'; socket: Socket; state: RoomState }
  | { reason: 'max_connections'; socket: Socket };

/**
 * Tracks `server`'s connections and closes them by the rules above. Busy connections (a request
 * being read or answered) are never closed here: when every one is busy, the new one is refused.
 */
export function keepRoom(
  server: Server,
  limits: RoomLimits,
  { lingering, onClose }: { lingering: Lingering; onClose: (closed: RoomClose) => void },
): void {
  let open = 0;
  // Insertion order is age order: the first entry is the oldest.
  const fresh = new Map<Socket, number>(); // no request yet → when it connected
  const idle = new Set<Socket>(); // between requests
  const inFlight = new WeakMap<Socket, number>();

  /** Counts it (while its address is still known), answers if it can, and frees its place now. */
  const close = (closed: RoomClose, answer?: string) => {
    const { socket } = closed;
    onClose(closed);
    fresh.delete(socket);
    idle.delete(socket);
    if (answer !== undefined && socket.writable) socket.write(answer);
    socket.destroy();
  };
  const evicted = rawAnswer(503, { error: 'evicted' }, ['Retry-After: 1']);

  const evictFor = (newcomer: Socket): boolean => {
    let partial: Socket | undefined;
    for (const socket of fresh.keys()) {
      if (socket === newcomer) continue;
      if (socket.bytesRead > 0) {
        partial ??= socket;
        continue;
      }
      close({ reason: 'evicted', socket, state: 'silent' }, evicted);
      return true;
    }
    const answered = lingering.oldest();
    if (answered) {
      // Its answer is out: closing it drops only the rest of a body nobody reads.
      lingering.release(answered);
      close({ reason: 'evicted', socket: answered, state: 'lingering' });
      return true;
    }
    if (partial) {
      close({ reason: 'evicted', socket: partial, state: 'partial' }, evicted);
      return true;
    }
    const resting = first(idle);
    if (resting === undefined) return false;
    close({ reason: 'evicted', socket: resting, state: 'idle' }, evicted);
    return true;
  };

  server.on('connection', (socket: Socket) => {
    open += 1;
    fresh.set(socket, performance.now());
    socket.once('close', () => {
      open -= 1;
      fresh.delete(socket);
      idle.delete(socket);
    });
    if (open > limits.maxConnections && !evictFor(socket)) close({ reason: 'max_connections', socket });
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    fresh.delete(socket);
    idle.delete(socket);
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once('finish', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left === 0 && !socket.destroyed && !lingering.has(socket)) idle.add(socket);
    });
  });

  const timeoutMs = limits.firstByteTimeoutMs;
  const idleTimeout = rawAnswer(408, { error: 'idle_timeout' });
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const [socket, connectedAt] of fresh) {
        if (now - connectedAt < timeoutMs) break;
        if (socket.bytesRead === 0) close({ reason: 'idle_timeout', socket }, idleTimeout);
      }
    },
    Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

const first = <T>(set: Set<T>): T | undefined => set.values().next().value;
