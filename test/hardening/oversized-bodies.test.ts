/**
 * Bodies refused before they are read (413 over MAX_BODY_BYTES, 401 without the secret), sent by
 * raw clients that keep writing after the answer: every one reads its answer, then the connection
 * closes. Against a receiver in its own process, as in production: sharing the event loop with
 * the clients would pace them to the server. No assertion on how long anything took.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { settledHeapUsed } from './gc.ts';
import { firstResponse, responseHeader, type UploadResult, upload } from './raw-http.ts';
import { startTestReceiver } from './receiver.ts';

const secret = 'oversized-bodies-secret';
const authorized = [`Authorization: Bearer ${secret}`];
const limit = 1024 * 1024;
const threeMegabytes = 3_000_000;
// Paced, as over a network: on loopback a client can hand its whole body to the kernel before the
// server answers, and would then never notice a server that closes without reading the rest.
const everyMs = 2;

let dir: TempDir;
let child: ReceiverProcess;
let port: number;
beforeAll(async () => {
  dir = await createTempDir('oversized');
  child = await startReceiverProcess({
    env: {
      SQLITE_PATH: `${dir.path}/cohorts.db`,
      MAX_BODY_BYTES: String(limit),
      AUTH_TOKENS: secret,
      SINKS: 'none',
    },
  });
  port = Number(new URL(child.url).port);
});
afterAll(async () => {
  await child?.stop();
  await dir?.remove();
});

/** The client read one whole answer, with `Connection: close`, and nothing after it. */
function expectAnswered(result: UploadResult, status: number, json: unknown) {
  // What the client saw, when it did not read the answer: the error, how much it had sent.
  const seen = JSON.stringify({ ...result, received: result.received.slice(0, 200) });
  expect(result.timedOut, seen).toBe(false);
  expect(firstResponse(result.received), seen).toEqual({ status, json });
  expect(responseHeader(result.received, 'connection')).toBe('close');
  expect(result.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
}

async function clientErrors(reason: string): Promise<number | undefined> {
  const text = await (
    await fetch(`${child.url}/metrics`, { headers: { authorization: `Bearer ${secret}` } })
  ).text();
  const line = text
    .split('\n')
    .find((sample) => sample.startsWith(`cohort_receiver_client_errors_total{reason="${reason}"}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a body refused before it is read', () => {
  it('40 clients at once writing 3 MB to a 1 MiB limit (Content-Length and chunked) all read the 413', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        upload(port, '/webhook', {
          headers: authorized,
          bytes: threeMegabytes,
          chunked: i % 2 === 1,
          everyMs,
        }),
      ),
    );
    for (const result of results) {
      expectAnswered(result, 413, { error: 'payload_too_large', limit });
      // Within the bound, the rest was read: the client finished its body and was never reset.
      expect(result.finished).toBe(true);
      expect(result.error).toBeUndefined();
    }
  });

  it('40 clients at once writing 3 MB without the secret all read the 401', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        upload(port, '/webhook', { bytes: threeMegabytes, chunked: i % 2 === 1, everyMs }),
      ),
    );
    for (const result of results) {
      expectAnswered(result, 401, { error: 'unauthorized' });
      expect(result.finished).toBe(true);
      expect(result.error).toBeUndefined();
    }
  });

  it('a client that never stops sending reads the 413, then is cut off', async () => {
    const before = (await clientErrors('discard_limit')) ?? 0;
    for (const chunked of [false, true]) {
      const result = await upload(port, '/webhook', { headers: authorized, bytes: Infinity, chunked });
      expectAnswered(result, 413, { error: 'payload_too_large', limit });
      // It had the answer while still sending, and the server closed the connection on it.
      expect(result.sentWhenAnswered).toBeLessThan(result.sent);
      expect(result.finished).toBe(false);
    }
    expect(await clientErrors('discard_limit')).toBe(before + 2);
    const line = await child.waitForLog('connection cut off while dropping a refused body');
    expect(line).toMatchObject({ level: 40, cause: 'bytes' });
  });
});

describe('dropping a refused body', () => {
  it('holds none of it in memory', async () => {
    // In this process, to measure its memory; the default MAX_BODY_BYTES (32 MiB): 128 MiB are
    // dropped before the cut, far more than anything else here could make the memory vary by.
    const receiver = await startTestReceiver({ SINKS: 'none' });
    try {
      const baseline = await settledMemory();
      let answered = false;
      const sending = upload(receiver.port, '/webhook', {
        bytes: Infinity,
        chunked: true,
        onAnswer: () => {
          answered = true;
        },
      });
      // Sampled while the server drops the body, after its answer, until it cuts the client off.
      const samples: number[] = [];
      let done = false;
      void sending.finally(() => {
        done = true;
      });
      while (!done) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (answered && !done) samples.push(await settledMemory());
      }
      const result = await sending;
      expectAnswered(result, 413, { error: 'payload_too_large', limit: 32 * limit });
      expect(result.sent - (result.sentWhenAnswered ?? 0)).toBeGreaterThan(64 * limit);
      expect(samples.length).toBeGreaterThan(0);
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
      console.info(
        `sent ${mib(result.sent - (result.sentWhenAnswered ?? 0))} after the 413; heap and buffers ` +
          `${mib(baseline)} before, at most ${mib(Math.max(...samples))} while dropping (${samples.length} samples)`,
      );
      // The server read over 64 MiB after its answer; what it holds grew by a fraction of that.
      expect(Math.max(...samples) - baseline).toBeLessThan(32 * limit);
    } finally {
      await receiver.stop();
    }
  });
});

/** Heap and Buffer memory in use after full collections. */
async function settledMemory(): Promise<number> {
  await settledHeapUsed();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
