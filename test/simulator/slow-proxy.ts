/**
 * @module A proxy that makes a receiver slow for some requests, so the simulator's client timeout
 * fires and it retries messages the receiver may already have accepted.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SlowProxyOptions {
  /** The receiver's origin, e.g. `http://127.0.0.1:41234`. */
  target: string;
  /** How long a slow request is held; longer than the client timeout to force a retry. */
  delayMs: number;
  /** Which webhook POSTs (counted from 0) are slow; reads are never delayed. */
  isSlow: (postIndex: number) => boolean;
}

export interface RunningSlowProxy {
  url: string;
  /** POSTs held so far: even ones were forwarded first and answered late (accepted, then too slow), odd ones forwarded late. */
  delayed(): number;
  close(): Promise<void>;
}

/**
 * Slow POSTs alternate between the two ways a receiver is late: it accepts the message and then
 * answers too late (the retry is a duplicate), or the message itself reaches it late (the retry
 * may arrive first, and the late original becomes the duplicate).
 */
export async function startSlowProxy(options: SlowProxyOptions): Promise<RunningSlowProxy> {
  let posts = 0;
  let delayed = 0;
  const server = createServer(async (request, response) => {
    response.on('error', () => {});
    const body = await readAll(request);
    const slow = request.method === 'POST' && options.isSlow(posts++);
    const answerLate = slow && delayed % 2 === 0;
    if (slow) delayed += 1;
    if (slow && !answerLate) await sleep(options.delayMs);
    try {
      const answer = await fetch(`${options.target}${request.url ?? '/'}`, {
        method: request.method ?? 'GET',
        headers: forwardedHeaders(request),
        ...(request.method === 'POST' ? { body } : {}),
      });
      const text = await answer.text();
      if (answerLate) await sleep(options.delayMs);
      if (response.destroyed) return;
      response.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'text/plain',
      });
      response.end(text);
    } catch {
      if (!response.destroyed) response.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    delayed: () => delayed,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function forwardedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'authorization', 'user-agent']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}
