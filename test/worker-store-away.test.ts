/**
 * The worker tells a store that is away from one that refuses a batch: while away it waits and tries
 * again without spending the batch's attempts (no dead letter, however long), logs once when the
 * wait starts and once when it ends; a refused batch still becomes a dead letter; a stop while
 * waiting gives the batch back to its queue unfinished.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../src/core/dead-letters/memory.ts';
import { StoreUnavailableError } from '../src/core/errors.ts';
import { createReceiverEvents, type ReceiverEventMap } from '../src/core/events.ts';
import { createQueuedBodyDecoder } from '../src/core/payload/decode-body.ts';
import { HandBackError, handOverUntilDone } from '../src/core/queue/hand-over.ts';
import { createMemoryStore } from '../src/core/store/memory.ts';
import type { MembershipStore } from '../src/core/store/store.ts';
import { createWorker, storeApplier } from '../src/core/worker.ts';
import { cohortBatch, queued } from './support/cohort-batch.ts';

/** A memory store whose applies fail with `failure()` the first `times` times. */
function failingFirst(times: number, failure: () => Error) {
  const store = createMemoryStore();
  const calls = { apply: 0 };
  const failing: MembershipStore = {
    ...store,
    async applyBatch(batch, options) {
      calls.apply += 1;
      if (calls.apply <= times) throw failure();
      return store.applyBatch(batch, options);
    },
  };
  return { store: failing, calls };
}

function workerOn(store: MembershipStore, options: { stopWaiting?: AbortSignal } = {}) {
  const events = createReceiverEvents();
  const seen: Partial<Record<keyof ReceiverEventMap, unknown[]>> = {};
  for (const name of [
    'applied',
    'applyFailed',
    'deadLettered',
    'storeUnavailable',
    'storeAvailability',
  ] as const) {
    seen[name] = [];
    events.on(name, (event: unknown) => seen[name]?.push(event));
  }
  const lines: { level: number; msg: string; away_ms?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
  const decode = createQueuedBodyDecoder();
  const handle = createWorker({
    apply: storeApplier(store, decode),
    decode,
    deadLetters,
    events,
    logger,
    maxAttempts: 3,
    backoffMs: () => 1,
    awayBackoffMs: () => 2,
    ...options,
  });
  return { handle, seen, lines, deadLetters };
}

const away = () =>
  new StoreUnavailableError('Postgres store at db could not apply a batch: connect ECONNREFUSED');

describe('worker: a store that is away', () => {
  it('waits and tries again, without spending attempts: applied once, no dead letter', async () => {
    // Ten times away with three attempts allowed: counted as attempts, it would be a dead letter.
    const { store, calls } = failingFirst(10, away);
    const { handle, seen, lines, deadLetters } = workerOn(store);
    const batch = cohortBatch({ users: [{ userId: 'u1' }] });

    await handle(queued(batch), { attempt: 1, acceptedAt: Date.now() });

    expect(calls.apply).toBe(11);
    expect(await store.userCohorts('u1')).toMatchObject([{ cohortId: batch.cohortId }]);
    expect(seen.applied).toHaveLength(1);
    expect(seen.applyFailed).toEqual([]);
    expect(seen.deadLettered).toEqual([]);
    expect(await deadLetters.list({ kind: 'failed' })).toEqual([]);
    expect(seen.storeUnavailable).toHaveLength(10);
    expect(seen.storeAvailability).toEqual([
      { available: false },
      { available: true, awayMs: expect.any(Number) },
    ]);
    // One line when the wait starts and one when it ends, whatever the number of retries.
    const outageLines = lines.filter((line) => /^store (unavailable|available again)/.test(line.msg));
    expect(outageLines.map((line) => line.msg)).toEqual([
      expect.stringMatching(/^store unavailable: applying waits/),
      'store available again: applying resumed',
    ]);
    expect(outageLines[1]?.away_ms).toEqual(expect.any(Number));
    expect(lines.filter((line) => line.msg === 'apply failed, will retry')).toEqual([]);
  });

  it('still sets aside, after APPLY_MAX_ATTEMPTS, a batch the store refuses', async () => {
    const { store, calls } = failingFirst(Number.POSITIVE_INFINITY, () => new Error('value too long'));
    const { handle, seen, deadLetters } = workerOn(store);
    const batch = cohortBatch({ users: [{ userId: 'u1' }] });

    await handle(queued(batch), { attempt: 1, acceptedAt: Date.now() });

    expect(calls.apply).toBe(3);
    expect(seen.applyFailed).toHaveLength(3);
    expect(seen.storeUnavailable).toEqual([]);
    const [letter] = await deadLetters.list({ kind: 'failed' });
    expect(letter).toMatchObject({
      messageId: batch.messageId,
      reason: expect.stringMatching(/value too long \(after 3 attempts\)/),
    });
  });

  it('counts only refusals as attempts when the store is also away in between', async () => {
    // away, refused, away, refused, away, then it works: two attempts spent of three.
    let call = 0;
    const base = createMemoryStore();
    const store: MembershipStore = {
      ...base,
      async applyBatch(batch, options) {
        call += 1;
        if (call <= 5) throw call % 2 === 1 ? away() : new Error('deadlock detected');
        return base.applyBatch(batch, options);
      },
    };
    const { handle, seen, deadLetters } = workerOn(store);
    await handle(queued(cohortBatch({ users: [{ userId: 'u1' }] })), { attempt: 1, acceptedAt: Date.now() });
    expect(seen.applyFailed).toHaveLength(2);
    expect(seen.applied).toHaveLength(1);
    expect(await deadLetters.list({ kind: 'failed' })).toEqual([]);
  });

  it('gives the batch back, unfinished and not set aside, when told to stop while waiting', async () => {
    const { store } = failingFirst(Number.POSITIVE_INFINITY, away);
    const stop = new AbortController();
    const { handle, seen, deadLetters } = workerOn(store, { stopWaiting: stop.signal });
    const batch = cohortBatch({ users: [{ userId: 'u1' }] });
    const entry = { ...queued(batch), acceptedAt: Date.now(), handedOver: 0 };

    // As a queue hands it over: until the handler resolves, or gives the batch back.
    const handing = handOverUntilDone(entry, {
      handler: handle,
      redeliveryDelayMs: 1,
      isClosed: () => false,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((seen.storeUnavailable ?? []).length).toBeGreaterThan(1);
    stop.abort();

    expect(await handing).toBe(false);
    expect(await store.userCohorts('u1')).toEqual([]);
    expect(seen.applyFailed).toEqual([]);
    expect(await deadLetters.list({ kind: 'failed' })).toEqual([]);
    await expect(handle(queued(batch), { attempt: 2, acceptedAt: Date.now() })).rejects.toBeInstanceOf(
      HandBackError,
    );
  });
});
