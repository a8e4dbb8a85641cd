/**
 * The first-sync bench plays Amplitude's sender: against a real server on 127.0.0.1 that answers
 * some batches with 503, slowly or never well, it retries with its backoff, counts timeouts and
 * gives a batch up when the retries run out. And a whole short run against the built-in receiver
 * reports every member readable.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { firstSyncBody } from '../../bench/first-sync/run-first-sync.ts';
import { sendLikeAmplitude } from '../../bench/first-sync/sender.ts';
import { repositoryRoot } from '../../bench/receiver-process.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';

let server: Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  if (open === undefined) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

/** A server whose answer to batch `n` (its body is the number) `answer` decides, per attempt. */
async function serve(answer: (batch: number, attempt: number) => { status: number; delayMs?: number }) {
  const attempts = new Map<number, number>();
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const batch = Number(body);
      const attempt = (attempts.get(batch) ?? 0) + 1;
      attempts.set(batch, attempt);
      const { status, delayMs = 0 } = answer(batch, attempt);
      setTimeout(() => response.writeHead(status).end('{}'), delayMs);
    });
  });
  const listening = server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}/webhook`, attempts };
}

const options = (url: string) => ({ url, headers: {}, inFlight: 4, timeoutMs: 300, backoffMs: [10, 20, 40] });

describe("Amplitude's sender", () => {
  it('retries a 503 after its backoff until the 200, and says how many retries the worst batch needed', async () => {
    const { url, attempts } = await serve((batch, attempt) => ({
      status: batch === 3 && attempt <= 2 ? 503 : 200,
    }));
    const result = await sendLikeAmplitude(10, String, options(url));
    expect(result).toMatchObject({ batches: 10, delivered: 10, givenUp: 0, mostRetries: 2, timeouts: 0 });
    expect(result.statuses).toEqual({ 200: 10, 503: 2 });
    expect(attempts.get(3)).toBe(3);
  });

  it('counts a slow answer as a timeout and sends the batch again', async () => {
    const { url } = await serve((batch, attempt) => ({
      status: 200,
      delayMs: batch === 5 && attempt === 1 ? 1000 : 0,
    }));
    const result = await sendLikeAmplitude(8, String, options(url));
    expect(result).toMatchObject({ delivered: 8, givenUp: 0, timeouts: 1, mostRetries: 1 });
  });

  it('gives a batch up once every retry failed, and goes on with the others', async () => {
    const { url, attempts } = await serve((batch) => ({ status: batch === 2 ? 500 : 200 }));
    const result = await sendLikeAmplitude(6, String, options(url));
    expect(result).toMatchObject({ batches: 6, delivered: 5, givenUp: 1 });
    // The first attempt and one per backoff step.
    expect(attempts.get(2)).toBe(4);
  });
});

describe('the first sync’s bodies', () => {
  it('are batches of the default shape, the last one shorter, every user once', () => {
    const parse = createBatchParser();
    const sync = { users: 2500, usersPerRequest: 1000, ids: 'uuid' as const, properties: 3 };
    const run = { cohortId: 'c', runId: 'r', computedTime: 1_700_000_000 };
    const users = new Set<string>();
    const sizes = [0, 1, 2].map((index) => {
      const text = firstSyncBody(index, run, sync);
      const batch = parse(JSON.parse(text), text, 0);
      expect(batch).toMatchObject({ cohortId: 'c', inCohort: true, messageId: `r::enter::${index}` });
      for (const user of batch.users) users.add(user.userId);
      expect(Object.keys(batch.users[0]?.properties ?? {})).toHaveLength(3);
      return batch.users.length;
    });
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(users.size).toBe(2500);
  });
});

describe('npm run bench -- --first-sync', () => {
  it('sends a small sync to the built-in receiver and reports every member readable, and the paced probe', async () => {
    const { stdout } = await promisify(execFile)(
      'npx',
      ['tsx', 'bench/cli.ts', '--first-sync', '5000', '--users-per-request', '500', '--probe-rate', '10'],
      { cwd: repositoryRoot, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain('| batches given up by the sender / timeouts | 0 / 0 |');
    expect(stdout).toMatch(/\| every member readable \| after [\d.]+ s: [\d,]+ users\/s end to end \|/);
    expect(stdout).toMatch(/\| peak RSS \/ disk \| \d+ MB \/ \d+ MB \|/);
    // B alone: two 5 s runs at 10 a second, every one answered 200.
    expect(stdout).toMatch(
      /\| paced 100-user acks while it applies, p99 \(p50, max\) \| [\d.]+ ms \([\d.]+, [\d.]+\) against B's [\d.]+ ms \([\d.]+, [\d.]+\): \*\*[\d.]+×\*\*; [\d,]+ requests \|/,
    );
  }, 120_000);
});
