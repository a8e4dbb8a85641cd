/** @module Reads a request body into one Buffer, refusing it as soon as it passes a size limit. */
import type { IncomingMessage } from 'node:http';
import { IncompleteBodyError, PayloadTooLargeError } from '../errors.ts';

/**
 * Reads the whole body, throwing PayloadTooLargeError before buffering more than `limit` bytes:
 * an honest Content-Length over the limit is refused without reading, and a lying or absent one
 * is caught while counting, so a 1 GB body costs at most `limit` bytes of memory.
 *
 * `incoming` is Node's request when served by @hono/node-server (the fast path: no Web stream in
 * between); in-process `app.request()` tests have only the Web `Request`.
 */
export async function readBody(request: Request, incoming: IncomingMessage | undefined, limit: number) {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  return incoming ? readIncoming(incoming, limit) : readWebStream(request, limit);
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop reading; the response sets `Connection: close` so the rest is never read.
        incoming.pause();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // Node reports a connection lost mid-body (closed, reset, or cut by REQUEST_TIMEOUT_MS) as an
    // `aborted` error, then `close`: either way the client is gone, which is not our failure.
    const onError = (error: Error) => {
      cleanup();
      reject(new IncompleteBodyError('the connection ended before the body did', { cause: error }));
    };
    const onClose = () => {
      if (incoming.complete) return;
      cleanup();
      reject(new IncompleteBodyError('the connection ended before the body did'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

async function readWebStream(request: Request, limit: number): Promise<Buffer> {
  if (!request.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
