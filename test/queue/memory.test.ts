import { describe, expect, it } from 'vitest';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { QueuedBatch } from '../../src/core/queue/queue.ts';
import { SeenIds } from '../../src/core/queue/seen-ids.ts';

const batch = (messageId: string, users = 1): QueuedBatch => ({
  messageId,
  users,
  body: JSON.stringify({
    message_id: messageId,
    users: Array.from({ length: users }, (_, i) => ({ user_id: `u${i}` })),
  }),
  receivedAt: 1,
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
    expect(await queue.stats()).toEqual({ batches: 2, users: 7, oldestAgeSeconds: 2.5, fullness: 7 / 100 });
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

describe('memory queue keeping bodies', () => {
  it('hands over the body it accepted, as it was, without parsing it', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100 });
    const accepted: QueuedBatch = {
      messageId: 'm1',
      users: 2,
      body: 'not even JSON',
      receivedAt: 1_700_000_000_500,
    };
    const delivered: QueuedBatch[] = [];
    queue.consume(async (got) => {
      delivered.push(got);
    });
    expect(await queue.accept(accepted)).toBe('accepted');
    expect(await queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([accepted]);
  });
});
