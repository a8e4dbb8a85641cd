/** @module Reads a request body into one Buffer, refusing it as soon as it passes a size limit. */
import { IncomingMessage } from 'node:http';
import { IncompleteBodyError, PayloadTooLargeError } from '../errors.ts';

/**
 * Reads the whole body, throwing PayloadTooLargeError before buffering more than `limit` bytes: an
 * honest Content-Length over the limit is refused without reading, and a lying or absent one is
 * caught while counting, so a 1 GB body costs at most `limit` bytes of memory. `source` is Node's
 * request when served (no Web stream in between); in-process `app.request()` has only the Request.
 */
export async function readBody(source: IncomingMessage | Request, limit: number): Promise<Buffer> {
  const incoming = source instanceof IncomingMessage ? source : undefined;
  const declared = incoming
    ? incoming.headers['content-length']
    : (source as Request).headers.get('content-length');
  if (Number(declared ?? Number.NaN) > limit) throw new PayloadTooLargeError(limit);
  return incoming ? readIncoming(incoming, limit) : readWebStream(source as Request, limit);
}

export function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error?: Error) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
      if (size <= limit) return;
      // Stop reading, without destroying the socket: the 413 goes out first, then the server drops
      // the rest of the body, bounded, so the client reads it (runtime/lingering-close.ts).
      incoming.pause();
      settle(new PayloadTooLargeError(limit));
    };
    const onEnd = () => settle();
    // Node reports a connection lost mid-body (closed, reset, or cut by REQUEST_TIMEOUT_MS) as an
    // `aborted` error, then `close`: either way the client is gone, which is not our failure.
    const onError = (error: Error) =>
      settle(new IncompleteBodyError('the connection ended before the body did', { cause: error }));
    const onClose = () => {
      if (!incoming.complete) settle(new IncompleteBodyError('the connection ended before the body did'));
    };
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
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
