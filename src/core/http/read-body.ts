/** @module Reads a request body into one Buffer, refusing it as soon as it passes a size limit. */
import { IncomingMessage } from 'node:http';
import { IncompleteBodyError, PayloadTooLargeError } from '../errors.ts';

/**
 * Reads the whole body, throwing PayloadTooLargeError before buffering more than `limit` bytes:
 * an honest Content-Length over the limit is refused without reading, and a lying or absent one
 * is caught while counting, so a 1 GB body costs at most `limit` bytes of memory.
 *
 * `source` is Node's request when served (the fast path: no Web stream in between); in-process
 * `app.request()` tests have only the Web `Request`.
 */
export async function readBody(source: IncomingMessage | Request, limit: number) {
  const incoming = source instanceof IncomingMessage ? source : undefined;
  // Node's own header map when there is one: no Web Headers built per request.
  const header = incoming
    ? incoming.headers['content-length']
    : (source as Request).headers.get('content-length');
  const declared = Number(header ?? Number.NaN);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  return incoming ? readIncoming(incoming, limit, declared) : readWebStream(source as Request, limit);
}

/**
 * With a Content-Length (`declared`), the chunks go into one buffer of that size as they come (a
 * body in one chunk is that chunk), so no list is kept and nothing is concatenated at the end. A
 * body that turns out longer still stops at `limit`; one that ends shorter is what arrived.
 */
export function readIncoming(
  incoming: IncomingMessage,
  limit: number,
  declared = Number.NaN,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    /** The body's buffer while it holds no more than `declared` bytes; undefined otherwise. */
    let into: Buffer | undefined;
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
      if (size <= declared) {
        // A body that arrives in one chunk is used as it is: no copy at all.
        if (into === undefined && size === declared && size === chunk.length) {
          into = chunk;
          return;
        }
        into ??= Buffer.allocUnsafe(declared);
        into.set(chunk, size - chunk.length);
        return;
      }
      // No Content-Length, or more bytes than it said (Node's parser prevents that; kept safe).
      if (into !== undefined) {
        chunks = [into.subarray(0, size - chunk.length)];
        into = undefined;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (into !== undefined) resolve(size === into.length ? into : into.subarray(0, size));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
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
