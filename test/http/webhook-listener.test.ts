/**
 * The webhook served straight from node:http (src/http/webhook-listener.ts) against the same
 * webhook served through Hono: the same raw bytes in, the same bytes out (but the Date), the same
 * log lines, counters, receipts and quarantined bodies, in every case the webhook answers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Queue } from '../../src/core/queue/queue.ts';
import { openConnection } from '../hardening/raw-http.ts';
import { type ServedReceiver, startPair, withoutDate } from './served-pair.ts';

let pair: Awaited<ReturnType<typeof startPair>> | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

let counter = 0;
const batchBody = (overrides: Record<string, unknown> = {}) => {
  counter += 1;
  return JSON.stringify({
    cohort_name: 'Direct',
    cohort_id: 'direct',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: `direct-${process.pid}-${counter}`,
    users: [{ user_id: 'user-1', user_properties: { plan: 'trial' } }, { user_id: 'user-2' }],
    ...overrides,
  });
};

const post = (body: string | Buffer, headers = '', target = '/webhook', host = '127.0.0.1') =>
  Buffer.concat([
    Buffer.from(
      `POST ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    ),
    Buffer.isBuffer(body) ? body : Buffer.from(body),
  ]);

const chunked = (parts: Buffer[], headers = '') =>
  Buffer.concat([
    Buffer.from(`POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Transfer-Encoding: chunked\r\n\r\n`),
    ...parts.flatMap((part) => [Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]),
    Buffer.from('0\r\n\r\n'),
  ]);

/** Sends `request` on a fresh connection; resolves with the whole response once it is complete or the connection closed. */
async function exchange(server: ServedReceiver, request: Buffer): Promise<string> {
  const connection = await openConnection(server.port);
  connection.socket.write(request);
  for (;;) {
    const text = connection.received();
    const headEnd = text.indexOf('\r\n\r\n');
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
    if (headEnd >= 0 && length && text.length >= headEnd + 4 + Number(length[1])) break;
    if (headEnd >= 0 && /transfer-encoding: chunked/i.test(text) && text.endsWith('0\r\n\r\n')) break;
    if (await Promise.race([connection.closed.then(() => true), sleep(5).then(() => false)])) break;
  }
  connection.socket.destroy();
  return withoutDate(connection.received());
}

/** Sends `request` to both servers and expects the same response from each; returns it. */
async function same(request: Buffer): Promise<string> {
  if (!pair) throw new Error('no pair');
  const fromHono = await exchange(pair.hono, request);
  const direct = await exchange(pair.direct, request);
  expect(direct).toBe(fromHono);
  return direct;
}

/** Waits for both sides' log lines to settle, then expects them, the counters, receipts and letters equal. */
async function expectSameRecords() {
  if (!pair) throw new Error('no pair');
  const { hono, direct } = pair;
  for (let waited = 0; hono.logLines.length !== direct.logLines.length && waited < 5000; waited += 5) {
    await sleep(5);
  }
  expect(direct.lines()).toEqual(hono.lines());
  expect(await direct.metrics()).toBe(await hono.metrics());
  expect(await direct.receipts()).toEqual(await hono.receipts());
  expect(await direct.letters()).toEqual(await hono.letters());
}

const status = (response: string) => Number(response.slice(9, 12));

describe('the webhook served straight from node:http', () => {
  it('answers accepted and duplicate as the Hono route does', async () => {
    pair = await startPair({ tokens: ['the-secret'] });
    const body = batchBody();
    const accepted = await same(post(body, 'Authorization: Bearer the-secret\r\n'));
    expect(accepted).toContain('"status":"accepted"');
    const duplicate = await same(post(body, 'Authorization: the-secret\r\n'));
    expect(duplicate).toContain('"status":"duplicate"');
    await same(post(batchBody({ in_cohort: false }), 'Authorization: Bearer the-secret\r\n'));
    await expectSameRecords();
    expect(pair.direct.lines().filter((line) => line.msg === 'request')).toHaveLength(3);
  });

  it('answers 401 to a missing or wrong secret, and takes ?token= as Hono reads it', async () => {
    pair = await startPair({ tokens: ['the-secret', 'other+secret'] });
    expect(status(await same(post(batchBody())))).toBe(401);
    expect(status(await same(post(batchBody(), 'Authorization: Bearer the-secreT\r\n')))).toBe(401);
    expect(status(await same(post(batchBody(), '', '/webhook?token=the-secret')))).toBe(200);
    expect(status(await same(post(batchBody(), '', '/webhook?x=1&token=the-secreT')))).toBe(401);
    // Percent-encoding in the query is decoded as Hono decodes it.
    expect(status(await same(post(batchBody(), '', '/webhook?token=other%2Bsecret')))).toBe(200);
    // A 401 leaves the body unread: the next request on a kept-alive connection must still parse.
    const twice = Buffer.concat([post(batchBody()), post(batchBody(), 'Authorization: the-secret\r\n')]);
    const both = await exchangeAll(twice, 2);
    expect(both.direct).toEqual(both.hono);
    expect(both.direct.map(status)).toEqual([401, 200]);
    await expectSameRecords();
  });

  it('cuts off the connection of a refused sender whose body keeps coming, as the Hono route does', async () => {
    pair = await startPair({ tokens: ['the-secret'] });
    for (const server of [pair.hono, pair.direct]) {
      const connection = await openConnection(server.port);
      connection.socket.write(
        'POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n',
      );
      const feed = setInterval(() => connection.socket.write(Buffer.alloc(1024, 'x')), 10);
      try {
        // The 401 comes at once; then the unread body is drained for a bounded time, and cut.
        await connection.closedWithin(10_000);
      } finally {
        clearInterval(feed);
      }
      expect(status(connection.received())).toBe(401);
    }
    await expectSameRecords();
  });

  it('answers 400 and 422 with the same bodies, and quarantines the same bytes', async () => {
    pair = await startPair();
    expect(status(await same(post('{"cohort_id": "x", ')))).toBe(400);
    expect(status(await same(post(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))))).toBe(400);
    expect(status(await same(post(batchBody({ in_cohort: 'yes', users: [{ name: 'x' }] }))))).toBe(422);
    // Content-Type and Content-Encoding are not read: a body is judged by its bytes alone.
    const labelled = 'Content-Type: text/plain\r\nContent-Encoding: gzip\r\n';
    expect(status(await same(post(batchBody(), labelled)))).toBe(200);
    await expectSameRecords();
    expect(await pair.direct.letters()).toHaveLength(3);
  });

  it('reads a chunked body without Content-Length', async () => {
    pair = await startPair();
    const body = Buffer.from(batchBody());
    const response = await same(chunked([body.subarray(0, 50), body.subarray(50)]));
    expect(status(response)).toBe(200);
    await expectSameRecords();
  });

  it('answers 413 and closes the connection, for a declared length and for a chunked body over the limit', async () => {
    pair = await startPair({ maxBodyBytes: 1000 });
    const declared = await same(post('x'.repeat(1001)));
    expect(status(declared)).toBe(413);
    expect(declared).toMatch(/\r\nconnection: close\r\n/);
    const streamed = await same(chunked([Buffer.alloc(600, 'x'), Buffer.alloc(600, 'x')]));
    expect(status(streamed)).toBe(413);
    // Exactly at the limit is still read.
    expect(status(await same(post(`"${'x'.repeat(998)}"`)))).toBe(422);
    await expectSameRecords();
  });

  it('answers 503 with Retry-After when the queue is full and while shutting down', async () => {
    pair = await startPair({ maxUsers: 3 });
    expect(status(await same(post(batchBody())))).toBe(200);
    const full = await same(post(batchBody()));
    expect(status(full)).toBe(503);
    expect(full).toMatch(/\r\nretry-after: 5\r\n/);
    pair.hono.queue.stopAccepting();
    pair.direct.queue.stopAccepting();
    const closing = await same(post(batchBody()));
    expect(closing).toContain('"reason":"shutting_down"');
    await expectSameRecords();
  });

  it('answers 500 internal to its own failure and logs the error whole', async () => {
    const failing = (queue: Queue): Queue => ({
      ...queue,
      accept: async () => {
        throw new Error('the queue broke');
      },
    });
    pair = await startPair({ wrapQueue: failing });
    const response = await same(post(batchBody()));
    expect(status(response)).toBe(500);
    expect(response).toContain('{"error":"internal"}');
    await expectSameRecords();
    expect(pair.direct.lines().map((line) => line.msg)).toEqual(['unexpected error', 'request failed']);
  });

  it('logs a body the client abandoned as incomplete, and records no receipt', async () => {
    pair = await startPair();
    for (const server of [pair.hono, pair.direct]) {
      const connection = await openConnection(server.port);
      connection.socket.write(
        'POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n{"a":',
      );
      await sleep(20);
      connection.socket.destroy();
      for (let waited = 0; server.logLines.length === 0 && waited < 5000; waited += 5) await sleep(5);
    }
    await expectSameRecords();
    expect(pair.direct.lines()).toEqual([
      expect.objectContaining({ status: 400, reason: 'incomplete_body', msg: 'request rejected' }),
    ]);
    expect(await pair.direct.receipts()).toEqual([]);
  });

  it('leaves other methods and unusual URLs to Hono, which answers them as before', async () => {
    pair = await startPair();
    const get = Buffer.from('GET /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(status(await same(get))).toBe(405);
    expect(status(await same(post(batchBody(), '', '/web%68ook')))).toBe(200);
    expect(status(await same(post(batchBody(), '', '/webhook/')))).toBe(404);
    expect(status(await same(post(batchBody(), '', 'http://127.0.0.1/webhook')))).toBe(200);
    expect(status(await same(post(batchBody(), '', '/webhook', 'Example.com:80')))).toBe(200);
    expect(status(await same(post(batchBody(), '', '/webhook', 'a_b:99999')))).toBe(400);
    await expectSameRecords();
  });
});

/** Sends `request` (several pipelined requests) to both servers; resolves with each side's `count` responses. */
async function exchangeAll(request: Buffer, count: number) {
  if (!pair) throw new Error('no pair');
  const read = async (server: ServedReceiver) => {
    const connection = await openConnection(server.port);
    connection.socket.write(request);
    for (let waited = 0; waited < 5000; waited += 5) {
      const responses = splitResponses(connection.received());
      if (responses.length >= count) {
        connection.socket.destroy();
        return responses.map(withoutDate);
      }
      await sleep(5);
    }
    connection.socket.destroy();
    return splitResponses(connection.received()).map(withoutDate);
  };
  return { hono: await read(pair.hono), direct: await read(pair.direct) };
}

/** The complete responses (each with a Content-Length) in `text`. */
function splitResponses(text: string): string[] {
  const responses: string[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return responses;
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(at, headEnd));
    const end = headEnd + 4 + Number(length?.[1] ?? 0);
    if (text.length < end) return responses;
    responses.push(text.slice(at, end));
    at = end;
  }
}
