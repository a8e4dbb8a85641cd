/**
 * @module What happens to a request body nobody read (a 401 answered before reading it, a 413
 * cut off at the limit): what @hono/node-server does for the Hono routes, for the webhook served
 * straight from node:http. Drained in the background, bounded in time and bytes, then the
 * connection is closed, so an unauthenticated sender cannot make the receiver read without end.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** As @hono/node-server's listener: 500 ms and 64 MiB at most, then the socket is closed. */
const drainTimeoutMs = 500;
const maxDrainBytes = 64 * 1024 * 1024;

/** Once `outgoing` closes, drains what is left of `incoming` two timer turns later, if anything is. */
export function drainUnreadBody(incoming: IncomingMessage, outgoing: ServerResponse): void {
  outgoing.once('close', () => {
    if (incoming.readableEnded) return;
    // Two turns, as there: Node's own dump of an untouched body may end it first.
    setTimeout(() => {
      if (!incoming.readableEnded) setTimeout(() => drain(incoming));
    });
  });
}

function drain(incoming: IncomingMessage): void {
  if (incoming.destroyed) return;
  let bytesRead = 0;
  const cleanup = () => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
  };
  const forceClose = () => {
    cleanup();
    const socket = incoming.socket;
    if (socket && !socket.destroyed) socket.destroySoon();
  };
  const timer = setTimeout(forceClose, drainTimeoutMs);
  timer.unref();
  const onData = (chunk: Buffer) => {
    bytesRead += chunk.length;
    if (bytesRead > maxDrainBytes) forceClose();
  };
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.resume();
}
