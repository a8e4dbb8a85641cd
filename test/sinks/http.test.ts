import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import {
  createSinkDispatcher,
  type SinkDispatcherOptions,
  type SinkLetterBody,
} from '../../src/core/sinks/dispatcher.ts';
import { changeKey } from '../../src/core/sinks/sink.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { replaySinkLetter } from '../../src/replay/resend-sink-letter.ts';
import { createHttpSink, type HttpSinkOptions, type WireChange } from '../../src/sinks/http.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { changesFor, membershipChange } from './changes.ts';
import { describeSinkContract } from './contract.ts';
import { type Downstream, type ReceivedRequest, type Responder, startDownstream } from './downstream.ts';

const changesOf = (request: ReceivedRequest) => (request.body as { changes: WireChange[] }).changes;

describeSinkContract('http', async () => {
  const downstream = await startDownstream();
  return {
    sink: createHttpSink({ url: downstream.url, concurrency: 4, batchSize: 50 }),
    observed: () =>
      downstream
        .accepted()
        .flatMap(changesOf)
        .map((change) => ({ key: change.key, userId: change.user_id, inCohort: change.in_cohort })),
    cleanup: () => downstream.close(),
  };
});

describe('http sink', () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const thing of opened.splice(0).reverse()) await thing.close();
  });

  /** A downstream, an http sink posting to it, and a dispatcher with fast retries around the sink. */
  async function setUp(
    responder: Responder,
    sinkOptions: Partial<HttpSinkOptions> = {},
    dispatcherOptions: Partial<SinkDispatcherOptions> = {},
  ) {
    const downstream: Downstream = await startDownstream(responder);
    opened.push(downstream);
    // One lane unless a test asks for more, so a test's few users travel in one request.
    const sink = createHttpSink({ url: downstream.url, concurrency: 1, ...sinkOptions });
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 100 });
    const dispatcher = createSinkDispatcher({
      sinks: [sink],
      deadLetters,
      logger: pino({ level: 'silent' }),
      maxAttempts: 5,
      backoffMs: () => 10,
      ...dispatcherOptions,
    });
    opened.push(dispatcher);
    return { downstream, sink, deadLetters, dispatcher };
  }

  it('POSTs the changes as JSON with the configured headers and a stable idempotency key', async () => {
    const { downstream, dispatcher } = await setUp(() => ({ status: 200 }), {
      headers: { Authorization: 'Bearer downstream-secret', 'X-Team': 'growth' },
    });
    const change = membershipChange({ restated: true });
    await dispatcher.dispatch([
      change,
      membershipChange({ userId: 'u2', kind: 'left', properties: undefined }),
    ]);

    expect(downstream.requests).toHaveLength(1);
    const [request] = downstream.requests as [ReceivedRequest];
    expect(request.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'cohort-receiver',
      authorization: 'Bearer downstream-secret',
      'x-team': 'growth',
      'idempotency-key': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(request.body).toEqual({
      changes: [
        {
          key: changeKey(change),
          cohort_id: 'c1',
          cohort_name: 'Power users',
          user_id: 'u1',
          kind: 'entered',
          in_cohort: true,
          computed_time: 100,
          message_id: 'm-100',
          user_properties: { plan: 'pro' },
          restated: true,
        },
        expect.objectContaining({ user_id: 'u2', kind: 'left', in_cohort: false, user_properties: null }),
      ],
    });
  });

  it('sends no more requests in any one-second window than its rate, counted where they arrive', async () => {
    const { downstream, dispatcher } = await setUp(() => ({ status: 200 }), {
      ratePerSecond: 5,
      concurrency: 4,
      batchSize: 1,
    });
    await dispatcher.dispatch(changesFor(Array.from({ length: 12 }, (_, index) => `user-${index}`)));

    const arrivals = downstream.requests.map((request) => request.at);
    expect(arrivals).toHaveLength(12);
    // A count over the recorded arrival times: the busiest one-second window holds the cap, no more.
    expect(busiestWindow(arrivals, 1000)).toBe(5);
  });

  it('counts retries against the rate too', async () => {
    const { downstream, dispatcher } = await setUp(
      (_request, index) => (index % 2 === 0 ? { status: 503 } : { status: 200 }),
      { ratePerSecond: 4, concurrency: 2, batchSize: 1 },
      { backoffMs: () => 0 },
    );
    await dispatcher.dispatch(changesFor(['u1', 'u2', 'u3', 'u4', 'u5']));

    expect(downstream.accepted()).toHaveLength(5);
    expect(
      busiestWindow(
        downstream.requests.map((request) => request.at),
        1000,
      ),
    ).toBeLessThanOrEqual(4);
  });

  it('waits as long as a 429’s Retry-After in seconds asks, then delivers', async () => {
    const { downstream, deadLetters, dispatcher } = await setUp((_request, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    await dispatcher.dispatch(changesFor(['u1', 'u2']));

    const [first, second] = downstream.requests as [ReceivedRequest, ReceivedRequest];
    expect(downstream.requests).toHaveLength(2);
    expect(second.at - first.at).toBeGreaterThanOrEqual(1000);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    expect(await deadLetters.list()).toEqual([]);
  });

  it('waits until a Retry-After HTTP date', async () => {
    let retryAt = 0;
    const { downstream, dispatcher } = await setUp((_request, index) => {
      if (index > 0) return { status: 200 };
      const date = new Date(Date.now() + 2000).toUTCString();
      retryAt = Date.parse(date);
      return { status: 503, headers: { 'retry-after': date } };
    });
    await dispatcher.dispatch(changesFor(['u1']));

    expect(downstream.requests).toHaveLength(2);
    expect((downstream.requests[1] as ReceivedRequest).receivedAt).toBeGreaterThanOrEqual(retryAt);
  });

  it('retries 5xx answers, refused connections and timeouts until one is accepted', async () => {
    const answers = [{ status: 500 }, 'destroy', 'hang', { status: 502 }, { status: 200 }] as const;
    const { downstream, deadLetters, dispatcher } = await setUp(
      (_request, index) => answers[index] ?? { status: 200 },
      { timeoutMs: 1000 },
    );
    await dispatcher.dispatch(changesFor(['u1']));

    expect(downstream.requests).toHaveLength(5);
    expect(downstream.accepted()).toHaveLength(1);
    expect(await deadLetters.list()).toEqual([]);
  });

  it('does not retry an answer a retry cannot change (400): it becomes a dead letter at once', async () => {
    const { downstream, deadLetters, dispatcher } = await setUp(() => ({ status: 400 }));
    await dispatcher.dispatch(changesFor(['u1', 'u2']), 'm-100');

    expect(downstream.requests).toHaveLength(1);
    const [letter] = await deadLetters.list({ kind: 'sink' });
    expect(letter).toMatchObject({ kind: 'sink', messageId: 'm-100' });
    expect(letter?.reason).toMatch(/^http: SinkError: POST http:\/\/127\.0\.0\.1:\d+\/changes answered 400/);
    expect(letter?.reason).toContain('(after 1 attempt)');
  });

  it('dead-letters a batch a sink keeps refusing, and a replay later sends the users’ current state', async () => {
    const store = createMemoryStore();
    const { downstream, sink, deadLetters, dispatcher } = await setUp(
      () => ({ status: 503 }),
      {},
      { maxAttempts: 3 },
    );
    const added = await store.applyBatch(cohortBatch({ messageId: 'm-100', users: usersOf('u1', 'u2') }));
    await dispatcher.dispatch(added, 'm-100');

    expect(downstream.requests).toHaveLength(3);
    const [letter] = await deadLetters.list({ kind: 'sink' });
    expect(letter?.reason).toContain('answered 503');
    expect(letter?.reason).toContain('(after 3 attempts)');
    const body = JSON.parse(letter?.body ?? '') as SinkLetterBody;
    expect(body).toEqual({ sink: 'http', changes: added });

    // The downstream is back, and u1 left since: that newer change is delivered first.
    downstream.respondWith(() => ({ status: 200 }));
    const left = await store.applyBatch(
      cohortBatch({ messageId: 'm-200', computedTime: 200, inCohort: false, users: usersOf('u1') }),
    );
    await dispatcher.dispatch(left);
    // Replaying the letter as it stands would put u1 back in; the replay sends what holds now.
    const replayed = await replaySinkLetter(letter as NonNullable<typeof letter>, { store, sinks: [sink] });

    expect(replayed).toEqual({ sink: 'http', changes: 2 });
    const delivered = downstream.accepted().flatMap(changesOf);
    expect(
      delivered.map(({ user_id, in_cohort, message_id, restated }) => [
        user_id,
        in_cohort,
        message_id,
        restated,
      ]),
    ).toEqual([
      ['u1', false, 'm-200', false],
      ['u1', false, 'm-200', true],
      ['u2', true, 'm-100', true],
    ]);
  });

  it('refuses a letter for a sink that is not configured, and a letter of another kind', async () => {
    const store = createMemoryStore();
    const letter = {
      id: '7',
      kind: 'sink' as const,
      reason: 'x',
      body: JSON.stringify({ sink: 'crm', changes: [] }),
      truncated: false,
      messageId: null,
      createdAt: 0,
    };
    await expect(replaySinkLetter(letter, { store, sinks: [] })).rejects.toThrow(
      'letter 7 is for the sink "crm", which is not configured (SINKS: none)',
    );
    await expect(replaySinkLetter({ ...letter, kind: 'failed' }, { store, sinks: [] })).rejects.toThrow(
      'not a sink letter',
    );
  });

  it('rejects options it cannot honour, naming them', () => {
    expect(() => createHttpSink({ url: 'http://127.0.0.1/', concurrency: 0 })).toThrow(
      'Expected `concurrency` to be a positive integer, got `0` (number)',
    );
    expect(() => createHttpSink({ url: 'http://127.0.0.1/', ratePerSecond: -1 })).toThrow('`ratePerSecond`');
  });
});

/** The most timestamps that fall within any window of `windowMs` (a sliding count). */
function busiestWindow(timestamps: number[], windowMs: number): number {
  const sorted = [...timestamps].sort((a, b) => a - b);
  let busiest = 0;
  for (let start = 0, end = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && (sorted[end] as number) - (sorted[start] as number) < windowMs) end += 1;
    busiest = Math.max(busiest, end - start);
  }
  return busiest;
}
