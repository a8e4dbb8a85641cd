import { request } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';

let receiver: RunningReceiver;
beforeAll(async () => {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    STORE: 'memory',
    SQLITE_PATH: ':memory:',
    MAX_BODY_BYTES: '65536',
  });
  receiver = await startReceiver(config, pino({ level: 'silent' }));
});
afterAll(async () => {
  await receiver.shutdown();
});

/** Streams `total` bytes with no Content-Length and reports the status and how much was sent. */
function streamBody(total: number): Promise<{ status: number; body: string; sent: number }> {
  const { hostname, port } = new URL(receiver.url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    const req = request({
      hostname,
      port,
      path: '/webhook',
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
    });
    req.on('error', (error) => (sent > 65536 ? resolve({ status: -1, body: '', sent }) : reject(error)));
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('body size limit on a real server', () => {
  it('answers 413 to a streamed body without reading it all', async () => {
    const result = await streamBody(1024 * 1024 * 1024);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toEqual({ error: 'payload_too_large', limit: 65536 });
    // It stopped the sender long before 1 GB: past the limit, the server only drops a bounded rest.
    expect(result.sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('answers 413 at once to an honest Content-Length over the limit', async () => {
    const response = await fetch(`${receiver.url}/webhook`, { method: 'POST', body: 'x'.repeat(70_000) });
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
  });

  it('still accepts a body just under the limit', async () => {
    const users = Array.from({ length: 500 }, (_, i) => ({ user_id: `user-${i}` }));
    const body = JSON.stringify({
      cohort_name: 'n',
      cohort_id: 'c',
      in_cohort: true,
      computed_time: '1',
      message_id: 'under-the-limit',
      users,
    });
    expect(body.length).toBeLessThan(65536);
    const response = await fetch(`${receiver.url}/webhook`, { method: 'POST', body });
    expect(response.status).toBe(200);
  });
});
