/**
 * Thousands of hostile bodies posted over HTTP to a real receiver on 127.0.0.1 (SQLite store).
 *
 * The receiver runs in this test's process rather than a child: it is the same server and the same
 * sockets, and sharing the heap is what lets the test force a collection and measure what the
 * bodies left behind. A crash would take the test worker down with it, so "the process stays up"
 * still shows; the child-process variant at the end proves it for a separate `node` process too.
 */
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReceiverProcess } from '../../bench/receiver-process.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { settledHeapUsed } from './gc.ts';
import {
  arbitraryBytes,
  arbitraryJson,
  extremeBodies,
  type HostileBody,
  mutatedBody,
} from './hostile-bodies.ts';
import { membersOf, scrapeMetrics, startTestReceiver, type TestReceiver } from './receiver.ts';

// Thousands of requests: give each test room on a loaded 2-core CI machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });

const maxBodyBytes = 8 * 1024 * 1024;
const documentedStatuses = new Set([200, 400, 413, 422, 503]);
/** A stack frame, an absolute source path or a module path: nothing internal may reach a sender. */
const internals = /\n\s+at |\(\S+:\d+:\d+\)|node_modules|\/work\/|\/src\/|\.ts:\d/;

let receiver: TestReceiver;
const acceptedBodies: Buffer[] = [];
const answers = new Map<number, number>();
let heapBaseline = 0;
let heapPeak = 0;
let posted = 0;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

/** Posts one body and checks the answer is documented, in JSON, and leaks nothing internal. */
async function post(body: HostileBody, url = receiver.url): Promise<Answer> {
  const response = await request(`${url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body.bytes,
  });
  const text = await response.body.text();
  const status = response.statusCode;
  const context = `${body.label} (${body.bytes.length} bytes) -> ${status} ${text.slice(0, 300)}`;
  expect(documentedStatuses.has(status), context).toBe(true);
  expect(String(response.headers['content-type']), context).toMatch(/^application\/json/);
  expect(text, context).not.toMatch(internals);
  const json = JSON.parse(text) as Record<string, unknown>;
  if (status === 200) expect(['accepted', 'duplicate'], context).toContain(json.status);
  else expect(typeof json.error, context).toBe('string');
  if (status === 503) expect(response.headers['retry-after'], context).toBeDefined();
  answers.set(status, (answers.get(status) ?? 0) + 1);
  if (url === receiver.url && json.status === 'accepted') acceptedBodies.push(body.bytes);
  posted += 1;
  if (posted % 25 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  return { status, json };
}

beforeAll(async () => {
  receiver = await startTestReceiver({ MAX_BODY_BYTES: String(maxBodyBytes), LOG_LEVEL: 'error' });
  // Warm up (JIT, lazily built statements, the first SQLite pages) before taking the baseline.
  for (const body of fc.sample(mutatedBody, { numRuns: 100, seed: 1 })) await post(body);
  await receiver.settle();
  heapBaseline = await settledHeapUsed();
});

afterAll(async () => {
  await receiver?.stop();
});

describe('hostile bodies against a real receiver', () => {
  it('answers 1,500 mutated Amplitude bodies with a documented status and a JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedBody, async (body) => {
        await post(body);
      }),
      { numRuns: 1500 },
    );
  });

  it('answers 500 arbitrary JSON values and 500 arbitrary byte strings the same way', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryJson, async (body) => {
        await post(body);
      }),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(arbitraryBytes, async (body) => {
        await post(body);
      }),
      { numRuns: 500 },
    );
  });

  it('answers each extreme body (100,000 users, 100,000-deep nesting, 64 MiB…) with its documented status', async () => {
    for (const body of extremeBodies(maxBodyBytes)) {
      const { status } = await post(body);
      expect(status, body.label).toBe(body.expected);
    }
  });

  it('stays up, and the store holds exactly what the accepted bodies say: no rejected body changed it', async () => {
    await receiver.settle(60_000);
    expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
    // Nothing the receiver did was its own error: no 500, no "unexpected error" line.
    expect(answers.get(500)).toBeUndefined();
    expect(receiver.logLines.filter((line) => Number(line.level) >= 50)).toEqual([]);

    const model = await applyAll(acceptedBodies);
    const served = (await (await fetch(`${receiver.url}/cohorts`)).json()) as {
      cohorts: { cohort_id: string; cohort_name: string; members: number }[];
    };
    const expected = await model.listCohorts();
    expect(served.cohorts.map((c) => [c.cohort_id, c.cohort_name, c.members])).toEqual(
      expected.map((c) => [c.cohortId, c.cohortName, c.members]),
    );
    for (const cohort of expected.filter((c) => c.members > 0 && c.members <= 1000)) {
      const members = await membersOf(receiver.url, cohort.cohortId);
      const page = await model.listMembers(cohort.cohortId, { limit: 1000 });
      expect(members.map((m) => [m.user_id, m.user_properties])).toEqual(
        page.members.map((m) => [m.userId, m.properties]),
      );
    }
    expect(expected.find((c) => c.cohortId === 'extreme-hundred-thousand')?.members).toBe(100_000);

    // Every 400 and 422 was counted as rejected (and quarantined), every 200 as accepted or duplicate.
    const metrics = await scrapeMetrics(receiver.url);
    const rejected =
      (metrics.get('cohort_receiver_batches_total{outcome="rejected",reason="invalid_json"}') ?? 0) +
      (metrics.get('cohort_receiver_batches_total{outcome="rejected",reason="invalid_payload"}') ?? 0);
    expect(rejected).toBe((answers.get(400) ?? 0) + (answers.get(422) ?? 0));
    expect(answers.get(200) ?? 0).toBeGreaterThan(100);
    expect(answers.get(400) ?? 0).toBeGreaterThan(100);
    expect(answers.get(422) ?? 0).toBeGreaterThan(100);
  });

  it('returns to its memory level once the queue has drained', async () => {
    await receiver.settle();
    const after = await settledHeapUsed();
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.info(`heap: baseline ${mib(heapBaseline)}, peak sampled ${mib(heapPeak)}, after ${mib(after)}`);
    // Generous: what legitimately stays is the dedupe memory of ~3,000 message ids and JIT code.
    expect(after - heapBaseline).toBeLessThan(48 * 2 ** 20);
  });
});

describe('hostile bodies against a receiver in its own process', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await createTempDir('fuzz-child');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('keeps the process up and writes nothing but JSON log lines', async () => {
    const child = await startReceiverProcess({
      env: {
        SQLITE_PATH: `${dir.path}/cohorts.db`,
        MAX_BODY_BYTES: String(maxBodyBytes),
        // The log sink writes a line per membership change (100,000 for one batch here): not the point.
        SINKS: 'none',
      },
    });
    try {
      const bodies = [
        ...fc.sample(mutatedBody, { numRuns: 200, seed: 7 }),
        ...fc.sample(arbitraryBytes, { numRuns: 50, seed: 7 }),
        ...extremeBodies(maxBodyBytes).filter((body) => body.bytes.length < maxBodyBytes),
      ];
      const statuses = new Map<number, number>();
      for (const body of bodies) {
        const { status } = await post(body, child.url);
        if ('expected' in body) expect(status, body.label).toBe(body.expected);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      expect([...statuses.values()].reduce((a, b) => a + b)).toBe(bodies.length);
      console.info('child answers by status:', Object.fromEntries(statuses));
      expect((await fetch(`${child.url}/healthz`)).status).toBe(200);
      expect(child.child.exitCode).toBeNull();
      // Anything on stderr (a console.error from a library, an uncaught warning) escaped the logger.
      expect(child.stderr()).toBe('');
    } finally {
      child.child.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    }
  });
});

/** The reference: the accepted bodies, parsed as the receiver parses them, applied to a memory store. */
async function applyAll(bodies: Buffer[]): Promise<MembershipStore> {
  const parse = createBatchParser();
  const store = createMemoryStore();
  for (const bytes of bodies) {
    const text = bytes.toString('utf8');
    await store.applyBatch(parse(JSON.parse(text), text, Date.now()));
  }
  return store;
}
