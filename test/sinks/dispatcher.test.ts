import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeadLetters } from '../../src/core/dead-letters/dead-letters.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createSinkDispatcher, type SinkDispatcherOptions } from '../../src/core/sinks/dispatcher.ts';
import { retryDelayMs } from '../../src/core/sinks/retry.ts';
import { type Sink, SinkError } from '../../src/core/sinks/sink.ts';
import type { MembershipChange } from '../../src/core/store/store.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { createHttpSink, type WireChange } from '../../src/sinks/http.ts';
import { changesFor } from './changes.ts';
import { startDownstream } from './downstream.ts';

const logger = pino({ level: 'silent' });

/** A sink that records what it was given and fails as `fail` says, call by call. */
function recordingSink(
  fail: (call: number) => Error | undefined = () => undefined,
  extra: Partial<Sink> = {},
) {
  const calls: MembershipChange[][] = [];
  const sink: Sink = {
    name: 'recording',
    ...extra,
    async send(changes) {
      calls.push([...changes]);
      const error = fail(calls.length);
      if (error) throw error;
    },
  };
  return { sink, calls };
}

describe('sink dispatcher', () => {
  const closers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const closer of closers.splice(0)) await closer.close();
  });
  const dispatch = (options: Partial<SinkDispatcherOptions> & Pick<SinkDispatcherOptions, 'sinks'>) => {
    const deadLetters = options.deadLetters ?? createMemoryDeadLetters({ maxPerKind: 100 });
    const dispatcher = createSinkDispatcher({ logger, backoffMs: () => 1, ...options, deadLetters });
    closers.push(dispatcher);
    return { dispatcher, deadLetters };
  };

  it('keeps each user’s order over concurrent requests, slow answers and retries', async () => {
    // Answers take 0-20 ms and a third fail with 503: the worst case for order with 4 requests in flight.
    let seed = 7;
    const random = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const downstream = await startDownstream(() =>
      random() < 0.33 ? { status: 503 } : { status: 200, delayMs: Math.floor(random() * 20) },
    );
    closers.push(downstream);
    const sink = createHttpSink({ url: downstream.url, concurrency: 4, batchSize: 3 });
    const { dispatcher, deadLetters } = dispatch({ sinks: [sink], maxAttempts: 50 });
    const userIds = Array.from({ length: 16 }, (_, index) => `user-${index}`);
    const rounds = 8;

    // Each round is a newer message for every user, handed over while the older ones are in flight.
    await Promise.all(
      Array.from({ length: rounds }, (_, round) =>
        dispatcher.dispatch(
          changesFor(userIds, {
            computedTime: 100 + round,
            messageId: `m-${round}`,
            kind: round % 2 === 0 ? 'entered' : 'left',
          }),
        ),
      ),
    );

    expect(await deadLetters.list()).toEqual([]);
    expect(downstream.requests.length).toBeGreaterThan(downstream.accepted().length);
    const delivered = downstream
      .accepted()
      .flatMap((request) => (request.body as { changes: WireChange[] }).changes);
    for (const userId of userIds) {
      const times = delivered
        .filter((change) => change.user_id === userId)
        .map((change) => change.computed_time);
      expect(times).toEqual(Array.from({ length: rounds }, (_, round) => 100 + round));
    }
  });

  it('cuts a sink’s changes into batches of its batchSize, never two changes for one user in a batch', async () => {
    const { sink, calls } = recordingSink(undefined, { batchSize: 2 });
    const { dispatcher } = dispatch({ sinks: [sink] });
    const first = changesFor(['u1', 'u2', 'u3']);
    const again = changesFor(['u1'], { messageId: 'm-200', computedTime: 200 });
    await dispatcher.dispatch([...first, ...again]);
    expect(calls.map((call) => call.map(({ userId, messageId }) => `${userId}@${messageId}`))).toEqual([
      ['u1@m-100', 'u2@m-100'],
      ['u3@m-100', 'u1@m-200'],
    ]);

    const { sink: sameUser, calls: sameUserCalls } = recordingSink(undefined, { batchSize: 10 });
    await dispatch({ sinks: [sameUser] }).dispatcher.dispatch([...changesFor(['u1']), ...again]);
    expect(sameUserCalls).toHaveLength(2);
  });

  it('hands the changes to every sink, and one failing sink neither blocks nor fails the others', async () => {
    const healthy = recordingSink();
    const failing = recordingSink(() => new SinkError('down', { retryable: false }));
    const { dispatcher, deadLetters } = dispatch({
      sinks: [failing.sink, { ...healthy.sink, name: 'healthy' }],
    });
    await dispatcher.dispatch(changesFor(['u1', 'u2']), 'm-100');

    expect(healthy.calls.flat()).toHaveLength(2);
    const letters = await deadLetters.list({ kind: 'sink' });
    expect(letters).toHaveLength(1);
    expect(JSON.parse(letters[0]?.body ?? '')).toMatchObject({ sink: 'recording' });
  });

  it('retries up to maxAttempts, then keeps one dead letter per sink and batch, and counts it all', async () => {
    const events = createReceiverEvents();
    const metrics = createMetrics({ events, sinks: ['recording'] });
    const { sink, calls } = recordingSink(() => new Error('connection reset'), { batchSize: 1 });
    const { dispatcher, deadLetters } = dispatch({ sinks: [sink], maxAttempts: 3, events });
    await dispatcher.dispatch(changesFor(['u1', 'u2']), 'm-100');

    expect(calls).toHaveLength(6);
    const letters = await deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      kind: 'sink',
      messageId: 'm-100',
      reason: 'recording: Error: connection reset (after 3 attempts)',
    });
    expect(JSON.parse(letters[0]?.body ?? '').changes).toEqual(changesFor(['u1', 'u2']));
    const text = await metrics.registry.metrics();
    expect(text).toContain('cohort_receiver_sink_changes_total{sink="recording",outcome="dead_lettered"} 2');
    expect(text).toContain('cohort_receiver_sink_failed_attempts_total{sink="recording"} 6');
    expect(text).toContain('cohort_receiver_dead_letters_total{kind="sink"} 1');
  });

  it('rejects when the dead letter cannot be written, so the queue delivers the batch again', async () => {
    const brokenLetters: DeadLetters = {
      ...createMemoryDeadLetters({ maxPerKind: 1 }),
      add: async () => {
        throw new Error('disk full');
      },
    };
    const { sink } = recordingSink(() => new SinkError('no', { retryable: false }));
    const { dispatcher } = dispatch({ sinks: [sink], deadLetters: brokenLetters });
    await expect(dispatcher.dispatch(changesFor(['u1']))).rejects.toThrow('disk full');
  });

  it('stops waiting between retries on close: a pending delivery rejects and nothing is dead-lettered', async () => {
    const { sink } = recordingSink(() => new SinkError('busy', { retryAfterMs: 60_000 }));
    const { dispatcher, deadLetters } = dispatch({ sinks: [sink] });
    const pending = dispatcher.dispatch(changesFor(['u1']));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await dispatcher.close();
    await expect(pending).rejects.toThrow('sink dispatcher closed');
    await expect(dispatcher.dispatch(changesFor(['u2']))).rejects.toThrow('sink dispatcher closed');
    expect(await deadLetters.list()).toEqual([]);
  });

  it('waits a jittered backoff between retries, never less than a Retry-After, cut to maxRetryAfterMs', () => {
    const backoffMs = (retry: number) => 100 * 2 ** (retry - 1);
    expect(retryDelayMs(3, new Error('x'), { backoffMs, random: () => 0.5 })).toBe(200);
    expect(retryDelayMs(3, new Error('x'), { backoffMs, random: () => 0 })).toBe(0);
    const asked = new SinkError('429', { retryAfterMs: 5000 });
    expect(retryDelayMs(1, asked, { backoffMs, random: () => 1 })).toBe(5000);
    expect(retryDelayMs(1, asked, { backoffMs, random: () => 1, maxRetryAfterMs: 1000 })).toBe(1000);
    expect(retryDelayMs(10, asked, { backoffMs, random: () => 1 })).toBe(51_200);
  });
});
