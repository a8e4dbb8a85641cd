/**
 * The Queue contract: every implementation (memory, sqlite, redis) runs this suite through
 * `describeQueueContract(name, factory)`.
 */

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CohortBatch } from '../../src/core/batch.ts';
import type { DeadLetters } from '../../src/core/dead-letters/dead-letters.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { toDefaultShapeBody, UndecodableBodyError } from '../../src/core/payload/decode-body.ts';
import type { HandOver, Queue, QueuedBatch } from '../../src/core/queue/queue.ts';
import { createWorker } from '../../src/core/worker.ts';

export interface QueueFactoryOptions {
  /** A bound with room for one test batch and not two (users, or bytes, whatever the queue counts). */
  roomForOne?: boolean;
  /** Wait before redelivering a batch whose handler threw (keep it small in tests). */
  redeliveryDelayMs?: number;
}

export type QueueFactory = (
  options: QueueFactoryOptions,
) => Promise<{ queue: Queue; cleanup: () => Promise<void> }>;

let sequence = 0;
/** A batch as the webhook queues it: its default-shape body and what a queue must know without parsing it. */
export function testBatch(overrides: Partial<CohortBatch> = {}): QueuedBatch {
  sequence += 1;
  const batch: CohortBatch = {
    cohortId: 'cohort-1',
    cohortName: 'Cohort "one" \\ ünïcödé',
    inCohort: true,
    computedTime: 1_692_206_763,
    messageId: `contract-${process.pid}-${Date.now()}-${sequence}`,
    users: [{ userId: 'u1', properties: { plan: 'pro', n: 1, nested: { ok: true } } }, { userId: 'u2' }],
    ...overrides,
  };
  return {
    messageId: batch.messageId,
    users: batch.users.length,
    body: toDefaultShapeBody(batch),
    receivedAt: 1_692_206_763_123,
  };
}

const waitFor = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
};

export function describeQueueContract(name: string, factory: QueueFactory) {
  describe(`Queue contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const open = async (options: QueueFactoryOptions = {}) => {
      const made = await factory({ redeliveryDelayMs: 10, ...options });
      cleanups.push(async () => {
        await made.queue.close();
        await made.cleanup();
      });
      return made.queue;
    };
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('delivers an accepted batch to the handler unchanged', async () => {
      const queue = await open();
      const batch = testBatch();
      const delivered: QueuedBatch[] = [];
      queue.consume(async (got) => {
        delivered.push(got);
      });
      expect(await queue.accept(batch)).toBe('accepted');
      await waitFor(() => delivered.length === 1, 'delivery');
      expect(delivered[0]).toEqual(batch);
    });

    it('answers duplicate for a message_id it already accepted, and delivers it once', async () => {
      const queue = await open();
      const batch = testBatch();
      const delivered: string[] = [];
      queue.consume(async (got) => {
        delivered.push(got.messageId);
      });
      expect(await queue.accept(batch)).toBe('accepted');
      expect(await queue.accept(batch)).toBe('duplicate');
      expect(await queue.accept({ ...batch, users: 0, body: '{}' })).toBe('duplicate');
      expect(await queue.drain(10_000)).toBe(true);
      expect(delivered).toEqual([batch.messageId]);
    });

    it('still answers duplicate after the batch was applied and removed from the queue', async () => {
      const queue = await open();
      const batch = testBatch();
      queue.consume(async () => {});
      await queue.accept(batch);
      expect(await queue.drain(10_000)).toBe(true);
      expect(await queue.accept(batch)).toBe('duplicate');
    });

    it('tells where a message stands: unknown, waiting until its handler resolves, then done', async () => {
      const queue = await open();
      const progress = (messageId: string) => queue.progress?.(messageId);
      const batch = testBatch();
      expect(await progress(batch.messageId)).toBe('unknown');
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let handedOver = false;
      queue.consume(async () => {
        handedOver = true;
        await held;
      });
      expect(await queue.accept(batch)).toBe('accepted');
      await waitFor(() => handedOver, 'hand-over');
      // In the handler's hands is not applied yet.
      expect(await progress(batch.messageId)).toBe('waiting');
      release();
      expect(await queue.drain(10_000)).toBe(true);
      expect(await progress(batch.messageId)).toBe('done');
      expect(await progress(testBatch().messageId)).toBe('unknown');
    });

    it('tells an applied message done while another still waits', async () => {
      const queue = await open();
      const [applied, held] = [testBatch(), testBatch()];
      let release = () => {};
      const holding = new Promise<void>((resolve) => {
        release = resolve;
      });
      queue.consume(async (got) => {
        if (got.messageId === held.messageId) await holding;
      });
      await queue.accept(applied);
      await queue.accept(held);
      for (let i = 0; i < 500 && (await queue.progress?.(applied.messageId)) !== 'done'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await queue.progress?.(applied.messageId)).toBe('done');
      expect(await queue.progress?.(held.messageId)).toBe('waiting');
      release();
      expect(await queue.drain(10_000)).toBe(true);
    });

    it('accepts each of many distinct batches sent at once exactly once', async () => {
      const queue = await open();
      const batches = Array.from({ length: 50 }, () => testBatch());
      const delivered = new Map<string, number>();
      queue.consume(async (got) => {
        delivered.set(got.messageId, (delivered.get(got.messageId) ?? 0) + 1);
      });
      const outcomes = await Promise.all([...batches, ...batches].map((batch) => queue.accept(batch)));
      expect(outcomes.filter((outcome) => outcome === 'accepted')).toHaveLength(50);
      expect(await queue.drain(10_000)).toBe(true);
      expect([...delivered.values()]).toEqual(Array(50).fill(1));
    });

    it('counts waiting batches and users until they are consumed', async () => {
      const queue = await open();
      await queue.accept(testBatch());
      await queue.accept(testBatch({ users: [{ userId: 'a' }, { userId: 'b' }, { userId: 'c' }] }));
      const stats = await queue.stats();
      expect(stats.batches).toBe(2);
      expect(stats.users).toBe(5);
      expect(stats.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
      queue.consume(async () => {});
      expect(await queue.drain(10_000)).toBe(true);
      expect(await queue.stats()).toMatchObject({ batches: 0, users: 0, oldestAgeSeconds: 0 });
    });

    it('delivers again, with a higher attempt number, a batch whose handler threw', async () => {
      const queue = await open();
      const attempts: HandOver[] = [];
      queue.consume(async (_batch, handOver) => {
        attempts.push(handOver);
        if (attempts.length < 3) throw new Error('store down');
      });
      await queue.accept(testBatch());
      await waitFor(() => attempts.length === 3, 'three attempts');
      expect(attempts.map((handOver) => handOver.attempt)).toEqual([1, 2, 3]);
      expect(await queue.drain(10_000)).toBe(true);
    });

    it('answers queue_full past its bound without remembering the refused message_id', async () => {
      const queue = await open({ roomForOne: true });
      expect((await queue.stats()).fullness).toBe(0);
      await queue.accept(testBatch());
      // One batch in: past half of a bound that has room for one and not two.
      const { fullness } = await queue.stats();
      expect(fullness).toBeGreaterThan(0.5);
      expect(fullness).toBeLessThanOrEqual(1);
      const refused = testBatch();
      await expect(queue.accept(refused)).rejects.toMatchObject({
        name: 'UnavailableError',
        reason: 'queue_full',
      });
      queue.consume(async () => {});
      expect(await queue.drain(10_000)).toBe(true);
      expect(await queue.accept(refused)).toBe('accepted');
    });

    it('hands over again an entry the worker could not set aside, until setting it aside works', async () => {
      const queue = await open();
      const setAside: string[] = [];
      const deadLetters = {
        add: async (letter: { messageId?: string }) => {
          setAside.push(letter.messageId ?? '');
          if (setAside.length === 1) throw new Error('dead letters down');
          return 'letter-1';
        },
      } as unknown as DeadLetters;
      let applied = 0;
      const decode = () => {
        throw new UndecodableBodyError('parser changed');
      };
      queue.consume(
        createWorker({
          apply: async () => {
            applied += 1;
            return decode();
          },
          decode,
          deadLetters,
          events: createReceiverEvents(),
          logger: pino({ level: 'silent' }),
        }),
      );
      const batch = testBatch();
      await queue.accept(batch);
      await waitFor(() => setAside.length === 2, 'a second try at setting it aside');
      expect(setAside).toEqual([batch.messageId, batch.messageId]);
      expect(await queue.drain(10_000)).toBe(true);
      expect(applied).toBe(2);
    });

    it('refuses with shutting_down after stopAccepting, and says so in check()', async () => {
      const queue = await open();
      await queue.check();
      queue.stopAccepting();
      await expect(queue.accept(testBatch())).rejects.toMatchObject({ reason: 'shutting_down' });
      await expect(queue.check()).rejects.toThrow();
    });
  });
}
