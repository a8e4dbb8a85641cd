import { describe, expect, it } from 'vitest';
import type { CohortBatch } from '../../src/core/batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { DeliveryInfo } from '../../src/core/queue/queue.ts';
import { SeenIds } from '../../src/core/queue/seen-ids.ts';
import { createBodyDecoder } from '../../src/runtime/stored-batch.ts';

const batch = (messageId: string, users = 1): CohortBatch => ({
  cohortId: 'c',
  cohortName: 'C',
  inCohort: true,
  computedTime: 1,
  messageId,
  users: Array.from({ length: users }, (_, i) => ({ userId: `u${i}` })),
});

describe('SeenIds', () => {
  it('remembers an id for the TTL and forgets it after', () => {
    let now = 0;
    const seen = new SeenIds({ ttlMs: 1000, now: () => now });
    seen.add('a');
    now = 999;
    expect(seen.has('a')).toBe(true);
    now = 1000;
    expect(seen.has('a')).toBe(false);
  });

  it('still remembers ids of the previous generation after a rotation', () => {
    let now = 0;
    const seen = new SeenIds({ ttlMs: 1000, now: () => now });
    seen.add('a');
    now = 1500;
    seen.add('b');
    now = 1600;
    expect(seen.has('b')).toBe(true);
    expect(seen.has('a')).toBe(false);
  });

  it('holds at most maxIds ids, forgetting the oldest generation first', () => {
    const seen = new SeenIds({ ttlMs: 60_000, maxIds: 10 });
    for (let i = 0; i < 15; i += 1) seen.add(`id-${i}`);
    const kept = Array.from({ length: 15 }, (_, i) => seen.has(`id-${i}`));
    expect(kept.filter(Boolean).length).toBeLessThanOrEqual(10);
    expect(seen.has('id-14')).toBe(true);
    expect(seen.has('id-0')).toBe(false);
  });
});

describe('memory queue', () => {
  it('accepts a message_id once and answers duplicate after', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100 });
    expect(await queue.accept(batch('m1'))).toBe('accepted');
    expect(await queue.accept(batch('m1'))).toBe('duplicate');
    expect((await queue.stats()).batches).toBe(1);
  });

  it('hands batches to the handler in accept order, with accept time and attempt 1', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100 });
    const seen: string[] = [];
    await queue.accept(batch('m1'));
    await queue.accept(batch('m2'));
    queue.consume(async (b, delivery) => {
      expect(delivery.attempt).toBe(1);
      expect(delivery.acceptedAt).toBeGreaterThan(0);
      seen.push(b.messageId);
    });
    expect(await queue.drain(5000)).toBe(true);
    expect(seen).toEqual(['m1', 'm2']);
  });

  it('reports waiting users and the age of the oldest batch', async () => {
    let now = 10_000;
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, now: () => now });
    await queue.accept(batch('m1', 3));
    now = 12_500;
    await queue.accept(batch('m2', 4));
    expect(await queue.stats()).toEqual({ batches: 2, users: 7, oldestAgeSeconds: 2.5 });
  });

  it('lets one batch larger than the bound in when empty, and refuses the next until drained', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 5 });
    expect(await queue.accept(batch('big', 8))).toBe('accepted');
    await expect(queue.accept(batch('next', 1))).rejects.toMatchObject({ reason: 'queue_full' });
    queue.consume(async () => {});
    await queue.drain(5000);
    expect(await queue.accept(batch('next', 1))).toBe('accepted');
  });

  it('reports false from drain when the handler is still busy at the deadline', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100 });
    let release!: () => void;
    queue.consume(() => new Promise<void>((resolve) => (release = resolve)));
    await queue.accept(batch('slow'));
    expect(await queue.drain(20)).toBe(false);
    release();
    expect(await queue.drain(5000)).toBe(true);
  });
});

describe('memory queue keeping raw bodies', () => {
  it('hands the handler the batch parsed again from the kept body, equal to the accepted one', async () => {
    const { createBatchParser } = await import('../../src/core/payload/parse-batch.ts');
    const { createBodyDecoder } = await import('../../src/runtime/stored-batch.ts');
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, decodeBody: createBodyDecoder() });
    const rawBody = JSON.stringify([{ user_id: 'u1', amplitude_Trial_x1: true }]);
    const receivedAtMs = 1_700_000_000_500;
    const accepted = createBatchParser()(JSON.parse(rawBody), rawBody, receivedAtMs);
    const delivered: CohortBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.accept(accepted, { rawBody, receivedAtMs })).toBe('accepted');
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([accepted]);
    expect(delivered[0]).not.toBe(accepted);
  });

  it('delivers what this process accepted without parsing it first, even with a parser that would refuse it', async () => {
    // The webhook's parser took the body a moment ago; parsing it again before the handler would
    // only cost the event loop. A body read back after a restart is parsed (memory-spill.test.ts).
    const queue = createMemoryQueue({
      dedupeTtlSeconds: 60,
      maxUsers: 100,
      decodeBody: () => {
        throw new Error('parser changed');
      },
      onUndecodable: async () => {
        throw new Error('not expected');
      },
    });
    const delivered: DeliveryInfo[] = [];
    queue.consume(async (_batch, delivery) => {
      delivered.push(delivery);
    });
    await queue.accept(batch('m1'), { rawBody: '{"x":1}', receivedAtMs: 1 });
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toMatchObject([{ attempt: 1, source: { rawBody: '{"x":1}' }, users: 1 }]);
  });
});

describe('the memory queue with a body decoder', () => {
  it('hands over the raw text and the user count, and parses the users only when they are read', async () => {
    const parsed: string[] = [];
    const decoder = createBodyDecoder();
    const queue = createMemoryQueue({
      dedupeTtlSeconds: 60,
      maxUsers: 100,
      decodeBody: (rawBody, receivedAtMs) => {
        parsed.push(rawBody);
        return decoder(rawBody, receivedAtMs);
      },
    });
    const rawBody = JSON.stringify({
      cohort_id: 'c',
      cohort_name: 'C',
      in_cohort: true,
      computed_time: '1',
      message_id: 'raw-1',
      users: [{ user_id: 'u1' }, { user_id: 'u2', user_properties: { plan: 'pro' } }],
    });
    const accepted = decoder(rawBody, 5);
    await queue.accept(accepted, { rawBody, receivedAtMs: 5 });
    const handed = new Promise<[CohortBatch, DeliveryInfo]>((resolve) => {
      queue.consume(async (batch, delivery) => resolve([batch, delivery]));
    });
    const [batch, delivery] = await handed;
    expect(delivery.source).toEqual({ rawBody, receivedAtMs: 5 });
    expect(delivery.users).toBe(2);
    const { cohortId, cohortName, inCohort, computedTime, messageId } = batch;
    expect({ cohortId, cohortName, inCohort, computedTime, messageId }).toEqual({
      cohortId: accepted.cohortId,
      cohortName: accepted.cohortName,
      inCohort: accepted.inCohort,
      computedTime: accepted.computedTime,
      messageId: accepted.messageId,
    });
    expect(parsed).toEqual([]);
    expect(batch.users).toEqual(accepted.users);
    expect(batch.users).toBe(batch.users);
    expect(parsed).toEqual([rawBody]);
    await queue.close();
  });
});
