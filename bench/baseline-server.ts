/**
 * @module The floor "B" of docs/performance.md: a bare node:http server that reads the body,
 * `JSON.parse`s it and answers 200. Every JSON receiver stands on this; the bench reports the
 * target as ratios of it, measured in the same run, so machine drift cancels.
 *
 * Run as a script (`node --import tsx bench/baseline-server.ts`), it listens on PORT and HOST.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const accepted = '{"status":"accepted"}';

/**
 * `keepBodies`: B also keeps every body's text for as long as it runs, as a receiver-only process
 * with the memory queue does (nothing drains it there), so that cost can be told from the ack path's.
 */
export function createBaselineServer({ keepBodies = false } = {}): Server {
  const kept: string[] = [];
  return createServer(function answerAfterParsing(request, response) {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
    });
    request.on('end', () => {
      if (request.method !== 'POST') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      try {
        const text = Buffer.concat(chunks, size).toString('utf8');
        JSON.parse(text);
        if (keepBodies) kept.push(text);
        response.writeHead(200, { 'content-type': 'application/json' }).end(accepted);
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_json"}');
      }
    });
  });
}

/** Starts the floor server; resolves with its URL once listening. */
export async function startBaselineServer(port = 0, host = '127.0.0.1', options = {}) {
  const server = createBaselineServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url } = await startBaselineServer(Number(process.env.PORT ?? 0), process.env.HOST, {
    keepBodies: process.env.BASELINE_KEEP_BODIES === '1',
  });
  console.log(JSON.stringify({ msg: 'listening', url }));
  // Nothing to drain: exit at once (process.exit still writes a --cpu-prof profile).
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
}
