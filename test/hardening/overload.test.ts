/**
 * Overload: a tiny QUEUE_MAX_USERS and a store made slow (the real SQLite store behind a valve and
 * a delay, a legitimate fault injection) fill the memory queue. The receiver must answer 503 with
 * Retry-After while full, 200 again once drained, and apply every batch it acknowledged.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { amplitudeBody, membersOf, scrapeMetrics, startTestReceiver, type TestReceiver } from './receiver.ts';

/** The real store, made slow: every apply waits until `open()`, then `delayMs` more. */
function slowStore(store: MembershipStore, delayMs: number) {
  let open!: () => void;
  const valve = new Promise<void>((resolve) => {
    open = resolve;
  });
  const slow: MembershipStore = {
    ...store,
    async applyBatch(batch, options) {
      await valve;
      await sleep(delayMs);
      return store.applyBatch(batch, options);
    },
  };
  return { store: slow, open: () => open() };
}

const usersPerBatch = 100;
const batchBody = (index: number) =>
  amplitudeBody(
    `overload-${index}`,
    Array.from({ length: usersPerBatch }, (_, user) => `u-${index}-${user}`),
    { cohort_id: 'overload' },
  );

async function post(body: string) {
  const response = await fetch(`${receiver.url}/webhook`, { method: 'POST', body });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    json: await response.json(),
  };
}

let receiver: TestReceiver;
let valve: ReturnType<typeof slowStore>;
beforeAll(async () => {
  receiver = await startTestReceiver(
    // QUEUE_MAX_USERS bounds the memory queue (the SQLite inbox is bounded by bytes and disk).
    { QUEUE: 'memory', QUEUE_MAX_USERS: '1000', SINKS: 'none' },
    {
      wrapStore: (store) => {
        valve = slowStore(store, 5);
        return valve.store;
      },
    },
  );
});
afterAll(async () => {
  valve?.open();
  await receiver?.stop();
});

describe('overload', () => {
  it('answers 503 + Retry-After while the queue is full, 200 once drained, and applies every acknowledged batch', async () => {
    const acknowledged: number[] = [];
    const refused: number[] = [];
    // Fill: with the store held, 1,000 users' worth of batches wait, then the queue is full.
    let index = 0;
    for (; refused.length < 5 && index < 100; index++) {
      const answer = await post(batchBody(index));
      if (answer.status === 200) {
        expect(refused, 'a batch was accepted after the queue was full').toEqual([]);
        acknowledged.push(index);
        continue;
      }
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toMatch(/^\d+$/);
      expect(answer.json).toEqual({ error: 'unavailable', reason: 'queue_full' });
      refused.push(index);
    }
    expect(acknowledged.length).toBe(1000 / usersPerBatch);
    expect(refused.length).toBe(5);

    const full = await scrapeMetrics(receiver.url);
    expect(full.get('cohort_receiver_queue_users')).toBe(1000);
    expect(full.get('cohort_receiver_queue_fullness')).toBe(1);
    expect(full.get('cohort_receiver_batches_total{outcome="unavailable",reason="queue_full"}')).toBe(5);
    // Still full while the store is held: no amount of retrying gets in.
    expect((await post(batchBody(refused[0] ?? 0))).status).toBe(503);

    // The store recovers; the sender retries what was refused (a 503 remembers no message_id).
    valve.open();
    for (const retried of refused) {
      let status = 0;
      for (let attempt = 0; attempt < 200 && status !== 200; attempt++) {
        status = (await post(batchBody(retried))).status;
        if (status !== 200) await sleep(10);
      }
      expect(status, `batch ${retried} was never accepted after the drain`).toBe(200);
      acknowledged.push(retried);
    }

    await receiver.settle();
    const members = await membersOf(receiver.url, 'overload');
    const expected = acknowledged.flatMap((batch) =>
      Array.from({ length: usersPerBatch }, (_, user) => `u-${batch}-${user}`),
    );
    expect(members.map((member) => member.user_id).sort()).toEqual(expected.sort());
    const drained = await scrapeMetrics(receiver.url);
    expect(drained.get('cohort_receiver_queue_users')).toBe(0);
    expect(drained.get('cohort_receiver_applied_users_total')).toBe(expected.length);
  });
});
