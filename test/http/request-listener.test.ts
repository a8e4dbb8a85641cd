/**
 * Which requests the node:http listener hands straight to the webhook listener: only a POST to the
 * webhook path with a URL and Host that @hono/node-server would use as they came. Everything else
 * goes to Hono, which normalises it and serves the same webhook route.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestListener } from '../../src/http/request-listener.ts';
import { openConnection } from '../hardening/raw-http.ts';

const direct: { url: string; target: string | undefined }[] = [];
let server: Server;
let port: number;

beforeAll(async () => {
  const app = new Hono();
  app.all('*', (c) => c.text('hono'));
  server = createServer(
    requestListener({
      fetch: app.fetch,
      hostname: '127.0.0.1',
      webhook: {
        path: '/webhook',
        serve: (incoming, outgoing, url) => {
          direct.push({ url, target: incoming.url });
          incoming.resume();
          incoming.on('end', () => outgoing.end('direct'));
        },
      },
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Which side answered a request line with `host` (no Host header when null). */
async function servedBy(requestLine: string, host: string | null = '127.0.0.1:8080') {
  const connection = await openConnection(port);
  const hostHeader = host === null ? '' : `Host: ${host}\r\n`;
  connection.socket.write(`${requestLine}\r\n${hostHeader}Content-Length: 2\r\nConnection: close\r\n\r\n{}`);
  await connection.closedWithin(5000);
  const text = connection.received();
  return text.endsWith('direct') ? 'direct' : text.endsWith('hono') ? 'hono' : text.slice(0, 12);
}

describe('requestListener', () => {
  it('serves a plain POST to the webhook path directly, with the URL Hono would build when there is a query', async () => {
    direct.length = 0;
    expect(await servedBy('POST /webhook HTTP/1.1')).toBe('direct');
    expect(await servedBy('POST /webhook?token=ab&x=1 HTTP/1.1')).toBe('direct');
    expect(direct).toEqual([
      { url: '/webhook', target: '/webhook' },
      { url: 'http://127.0.0.1:8080/webhook?token=ab&x=1', target: '/webhook?token=ab&x=1' },
    ]);
  });

  it('leaves to Hono other methods, other paths and URLs or hosts that Hono would normalise', async () => {
    expect(await servedBy('GET /webhook HTTP/1.1')).toBe('hono');
    expect(await servedBy('PUT /webhook HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhook/ HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhooks HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /web%68ook HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhook?a=/../ HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhook?a="b" HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhook?token=a%2Bb HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST http://127.0.0.1:8080/webhook HTTP/1.1')).toBe('hono');
    expect(await servedBy('POST /webhook HTTP/1.1', 'Example.com')).toBe('hono');
    expect(await servedBy('POST /webhook HTTP/1.1', 'example.com:443')).toBe('hono');
    expect(await servedBy('POST /webhook HTTP/1.0', null)).toBe('hono');
  });

  it('serves everything through Hono when there is no webhook (ROLE=worker) or its path is not plain', async () => {
    const app = new Hono();
    app.all('*', (c) => c.text('hono'));
    for (const webhook of [undefined, { path: '/hook%20s', serve: () => {} }]) {
      const listener = requestListener({ fetch: app.fetch, hostname: '127.0.0.1', webhook });
      const other = createServer(listener);
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      const connection = await openConnection((other.address() as AddressInfo).port);
      connection.socket.write(
        'POST /hook%20s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      await connection.closedWithin(5000);
      expect(connection.received().endsWith('hono')).toBe(true);
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
