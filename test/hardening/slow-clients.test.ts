/**
 * Slow and abusive clients against a real server on 127.0.0.1, over raw sockets. Timeouts are set
 * small through the configuration so the tests run fast; they assert only that the server closed
 * the connection (waiting for it within a generous bound), never how long it took.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dribble, firstResponse, openConnection } from './raw-http.ts';
import { amplitudeBody, scrapeMetrics, startTestReceiver, type TestReceiver } from './receiver.ts';

/** Far above the configured timeouts: only a server that never closes goes past it. */
const bound = 10_000;

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await startTestReceiver({
    HEADERS_TIMEOUT_MS: '300',
    REQUEST_TIMEOUT_MS: '600',
    KEEP_ALIVE_TIMEOUT_MS: '300',
    SINKS: 'none',
  });
});
afterAll(async () => {
  await receiver?.stop();
});

const post = (body: string, contentLength = Buffer.byteLength(body)) =>
  `POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n${body}`;

async function cohortIds(): Promise<string[]> {
  const body = (await (await fetch(`${receiver.url}/cohorts`)).json()) as {
    cohorts: { cohort_id: string }[];
  };
  return body.cohorts.map((cohort) => cohort.cohort_id);
}

describe('slow clients', () => {
  it('closes a slow-loris connection with 408, and serves others meanwhile', async () => {
    const lorises = await Promise.all(Array.from({ length: 5 }, () => openConnection(receiver.port)));
    for (const loris of lorises) {
      dribble(loris.socket, `POST /webhook HTTP/1.1\r\nHost: test\r\nX-Slow: ${'a'.repeat(5000)}`, 20);
    }
    // The event loop is not held: a normal request is answered while the headers dribble in.
    expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
    for (const loris of lorises) {
      await loris.closedWithin(bound);
      expect(firstResponse(loris.received())).toEqual({ status: 408, json: { error: 'request_timeout' } });
    }
  });

  it('closes a connection that never sends a byte', async () => {
    const silent = await openConnection(receiver.port);
    await silent.closedWithin(bound);
    expect(firstResponse(silent.received())?.status).toBe(408);
  });

  it('cuts off a body that never ends (chunked, a byte at a time) with 408, accepting nothing', async () => {
    const connection = await openConnection(receiver.port);
    connection.socket.write(
      'POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    dribble(connection.socket, `1\r\n[\r\n`.repeat(10_000), 5);
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({ status: 408, json: { error: 'request_timeout' } });
    await receiver.waitForLog((line) => line.reason === 'incomplete_body');
  });

  it('a refused body sent slowly: its 413, then cut at REQUEST_TIMEOUT_MS with nothing after the answer', async () => {
    const connection = await openConnection(receiver.port);
    connection.socket.write(post('', 64 * 1024 * 1024));
    dribble(connection.socket, 'x'.repeat(10_000), 20);
    await connection.closedWithin(bound);
    const text = connection.received();
    expect(firstResponse(text)).toEqual({
      status: 413,
      json: { error: 'payload_too_large', limit: 33554432 },
    });
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    const metrics = await scrapeMetrics(receiver.url);
    expect(metrics.get('cohort_receiver_client_errors_total{reason="discard_limit"}')).toBe(1);
  });

  it('idles out keep-alive connections after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const idle = await Promise.all(Array.from({ length: 20 }, () => openConnection(receiver.port)));
    for (const connection of idle) connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    for (const connection of idle) {
      await connection.closedWithin(bound);
      expect(firstResponse(connection.received())).toEqual({ status: 200, json: { status: 'ok' } });
    }
  });
});

describe('lying and malformed requests', () => {
  it('a Content-Length longer than the body: the request times out with 408 and nothing is accepted', async () => {
    const connection = await openConnection(receiver.port);
    const body = amplitudeBody('cl-longer', ['u1'], { cohort_id: 'cl-longer' });
    connection.socket.write(post(body, Buffer.byteLength(body) + 100));
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({ status: 408, json: { error: 'request_timeout' } });
    await receiver.settle();
    expect(await cohortIds()).not.toContain('cl-longer');
  });

  it('a Content-Length longer than the body, then the client hangs up: 400 and nothing is accepted', async () => {
    const connection = await openConnection(receiver.port);
    const body = amplitudeBody('cl-longer-fin', ['u1'], { cohort_id: 'cl-longer-fin' });
    connection.socket.end(post(body, Buffer.byteLength(body) + 100));
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({ status: 400, json: { error: 'bad_request' } });
    await receiver.settle();
    expect(await cohortIds()).not.toContain('cl-longer-fin');
  });

  it('a Content-Length shorter than the body: the cut body is invalid JSON, the rest a bad request; closed', async () => {
    const connection = await openConnection(receiver.port);
    const body = amplitudeBody('cl-shorter', ['u1'], { cohort_id: 'cl-shorter' });
    connection.socket.write(post(body, Buffer.byteLength(body) - 10));
    await connection.closedWithin(bound);
    const answer = firstResponse(connection.received());
    expect(answer?.status).toBe(400);
    expect(answer?.json).toMatchObject({ error: expect.any(String) });
    await receiver.settle();
    expect(await cohortIds()).not.toContain('cl-shorter');
  });

  it('both Content-Length and Transfer-Encoding (request smuggling): 400, closed', async () => {
    const connection = await openConnection(receiver.port);
    connection.socket.write(
      'POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({ status: 400, json: { error: 'bad_request' } });
  });

  it('headers over 16 KiB: 431, closed', async () => {
    const connection = await openConnection(receiver.port);
    connection.socket.write(`GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({
      status: 431,
      json: { error: 'headers_too_large' },
    });
  });

  it('bytes that are not HTTP: 400, closed', async () => {
    const connection = await openConnection(receiver.port);
    connection.socket.write('\x00\x01\x02 nonsense\r\n\r\n');
    await connection.closedWithin(bound);
    expect(firstResponse(connection.received())).toEqual({ status: 400, json: { error: 'bad_request' } });
  });

  it('counts each kind in cohort_receiver_client_errors_total and logs it', async () => {
    const metrics = await scrapeMetrics(receiver.url);
    for (const reason of ['request_timeout', 'bad_request', 'headers_too_large']) {
      expect(metrics.get(`cohort_receiver_client_errors_total{reason="${reason}"}`), reason).toBeGreaterThan(
        0,
      );
    }
    expect(receiver.logLines.some((line) => line.msg === 'connection closed: client error')).toBe(true);
    // None of it was mistaken for the receiver's own failure.
    expect(receiver.logLines.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});

describe('too many connections', () => {
  it('refuses connections beyond MAX_CONNECTIONS when every one is busy, and serves again when they go', async () => {
    const capped = await startTestReceiver({ MAX_CONNECTIONS: '8', SINKS: 'none' });
    try {
      // Each holder is in the middle of a request, its body awaited (the 100 Continue says the
      // server has it): busy, so it cannot give way as idle and silent ones do
      // (idle-connections.test.ts).
      const holders = await Promise.all(Array.from({ length: 8 }, () => openConnection(capped.port)));
      for (const holder of holders) {
        holder.socket.write(
          'POST /webhook HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
        );
      }
      for (const holder of holders) {
        while (!holder.received().includes('100 Continue')) await new Promise((r) => setTimeout(r, 5));
      }
      const refused = await openConnection(capped.port);
      refused.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
      await refused.closedWithin(bound);
      expect(refused.received()).toBe('');
      await capped.waitForLog((line) => line.msg === 'connection refused: too many open connections');

      for (const holder of holders) holder.socket.destroy();
      await Promise.all(holders.map((holder) => holder.closed));
      // The server counts a connection gone once it sees the close: retry briefly until it has.
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        status = await fetch(`${capped.url}/healthz`, { headers: { connection: 'close' } }).then(
          (response) => response.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(200);
      const metrics = await scrapeMetrics(capped.url);
      expect(metrics.get('cohort_receiver_client_errors_total{reason="max_connections"}')).toBe(1);
    } finally {
      await capped.stop();
    }
  });
});
