/**
 * readBody on a real node:http server, fed raw bytes over TCP so the Content-Length, the chunking
 * and the end of the body are the test's to choose. The server records what each read returned.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readBody } from '../../src/core/http/read-body.ts';
import { openConnection } from '../hardening/raw-http.ts';

const limit = 64 * 1024;
type Outcome = { bytes: number; sha256: string } | { error: string };
let outcomes: Outcome[] = [];
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((incoming, response) => {
    readBody(incoming, limit).then(
      (body) => {
        outcomes.push({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
        response.end('ok');
      },
      (error: Error) => {
        outcomes.push({ error: error.name });
        response.setHeader('connection', 'close');
        response.end('refused');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  outcomes = [];
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const head = (headers: string) => `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;
/** Distinct bytes at every offset, so a chunk copied to the wrong place changes the digest. */
const bodyOf = (size: number) =>
  Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + (i >> 8)) % 251));

async function until(predicate: () => boolean) {
  for (let waited = 0; !predicate(); waited += 5) {
    if (waited > 5000) throw new Error('the server recorded no outcome');
    await sleep(5);
  }
}

describe('readBody with a Content-Length', () => {
  it('returns exactly the bytes sent when the body arrives in many chunks', async () => {
    const body = bodyOf(40_000);
    const connection = await openConnection(port);
    connection.socket.write(head(`Content-Length: ${body.length}\r\n`));
    for (let at = 0; at < body.length; at += 7_000) {
      connection.socket.write(body.subarray(at, at + 7_000));
      await sleep(5); // separate reads on the server, so separate chunks
    }
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ bytes: body.length, sha256: sha256(body) });
    connection.socket.destroy();
  });

  it('returns exactly the bytes sent when the body arrives in one piece', async () => {
    const body = bodyOf(3_000);
    const connection = await openConnection(port);
    connection.socket.write(Buffer.concat([Buffer.from(head(`Content-Length: ${body.length}\r\n`)), body]));
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ bytes: body.length, sha256: sha256(body) });
    connection.socket.destroy();
  });

  it('takes only the declared bytes of a longer body (the rest is not this request)', async () => {
    const declared = bodyOf(1_000);
    const connection = await openConnection(port);
    connection.socket.write(
      Buffer.concat([Buffer.from(head('Content-Length: 1000\r\n')), declared, Buffer.from('trailing junk')]),
    );
    await until(() => outcomes.length >= 1);
    expect(outcomes[0]).toEqual({ bytes: 1_000, sha256: sha256(declared) });
    connection.socket.destroy();
  });

  it('reports a body that ends short of its Content-Length as incomplete', async () => {
    const connection = await openConnection(port);
    connection.socket.write(head('Content-Length: 5000\r\n'));
    connection.socket.write(bodyOf(2_000));
    await sleep(20);
    connection.socket.destroy();
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ error: 'IncompleteBodyError' });
  });

  it('refuses a Content-Length over MAX_BODY_BYTES before reading any of the body', async () => {
    const connection = await openConnection(port);
    connection.socket.write(head(`Content-Length: ${limit + 1}\r\n`));
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ error: 'PayloadTooLargeError' });
    connection.socket.destroy();
  });

  it('accepts a body of exactly MAX_BODY_BYTES', async () => {
    const body = bodyOf(limit);
    const connection = await openConnection(port);
    connection.socket.write(head(`Content-Length: ${limit}\r\n`));
    connection.socket.write(body.subarray(0, 10_000));
    await sleep(5);
    connection.socket.write(body.subarray(10_000));
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ bytes: limit, sha256: sha256(body) });
    connection.socket.destroy();
  });
});

describe('readBody without a Content-Length (chunked)', () => {
  const chunked = (parts: Buffer[]) =>
    Buffer.concat([
      Buffer.from(head('Transfer-Encoding: chunked\r\n')),
      ...parts.flatMap((part) => [Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]),
      Buffer.from('0\r\n\r\n'),
    ]);

  it('returns exactly the bytes sent', async () => {
    const body = bodyOf(20_000);
    const connection = await openConnection(port);
    connection.socket.write(chunked([body.subarray(0, 5_000), body.subarray(5_000)]));
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ bytes: body.length, sha256: sha256(body) });
    connection.socket.destroy();
  });

  it('stops at MAX_BODY_BYTES while counting', async () => {
    const connection = await openConnection(port);
    connection.socket.write(chunked([bodyOf(40_000), bodyOf(40_000)]));
    await until(() => outcomes.length === 1);
    expect(outcomes[0]).toEqual({ error: 'PayloadTooLargeError' });
    connection.socket.destroy();
  });
});
