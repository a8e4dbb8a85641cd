import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CohortBatch } from '../src/core/batch.ts';
import { createMemoryDeadLetters } from '../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../src/core/events.ts';
import { createQueuedBodyDecoder, toDefaultShapeBody } from '../src/core/payload/decode-body.ts';
import type { QueuedBatch } from '../src/core/queue/queue.ts';
import { createMemoryStore } from '../src/core/store/memory.ts';
import { createWorker, storeApplier } from '../src/core/worker.ts';
import { cohortBatch } from './support/cohort-batch.ts';

/** The batch as a queue hands it over: its body in Amplitude's default shape. */
const queued = (batch: CohortBatch): QueuedBatch => ({
  messageId: batch.messageId,
  users: batch.users.length,
  body: toDefaultShapeBody(batch),
  receivedAt: 1_692_206_763_000,
});

describe('worker: a batch delivered more often than APPLY_MAX_ATTEMPTS', () => {
  it('sets it aside as a failed dead letter without applying it (it keeps killing workers)', async () => {
    const store = createMemoryStore();
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
    const decode = createQueuedBodyDecoder();
    const handle = createWorker({
      apply: storeApplier(store, decode),
      decode,
      deadLetters,
      events: createReceiverEvents(),
      logger: pino({ level: 'silent' }),
      maxAttempts: 3,
    });
    const batch = cohortBatch({ users: [{ userId: 'u1' }] });
    await handle(queued(batch), { attempt: 4, acceptedAt: Date.now() });
    expect(await store.userCohorts('u1')).toEqual([]);
    const [letter] = await deadLetters.list({ kind: 'failed' });
    expect(letter).toMatchObject({
      messageId: batch.messageId,
      reason: expect.stringMatching(/delivered 4 times/),
    });
    expect(letter?.body).toBe(toDefaultShapeBody(batch));
    expect(decode(letter?.body ?? '', 0)).toEqual(batch);

    await handle(queued(cohortBatch({ users: [{ userId: 'u2' }] })), { attempt: 3, acceptedAt: Date.now() });
    expect(await store.userCohorts('u2')).toHaveLength(1);
  });
});

describe('worker: an applier that counts its changes', () => {
  const lazyApplier = (reads: string[]) => async () => {
    const built = [
      {
        cohortId: 'c',
        cohortName: 'C',
        userId: 'u1',
        kind: 'entered' as const,
        computedTime: 1,
        messageId: 'm',
      },
    ];
    return {
      batch: { cohortId: 'c', cohortName: 'C', inCohort: true, computedTime: 1, messageId: 'm' },
      users: 2,
      counts: { entered: 1, left: 0, updated: 0 },
      get changes() {
        reads.push('changes');
        return built;
      },
    };
  };
  const workerWith = (apply: ReturnType<typeof lazyApplier>, onChanges?: () => Promise<void>) => {
    const events = createReceiverEvents();
    const applied: unknown[] = [];
    events.on('applied', (event) => applied.push(event));
    const handle = createWorker({
      apply,
      decode: createQueuedBodyDecoder(),
      deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
      events,
      logger: pino({ level: 'info' }, { write: () => {} }),
      ...(onChanges && { onChanges }),
    });
    return { handle, applied };
  };
  const batch = queued(cohortBatch({ users: [{ userId: 'u1' }, { userId: 'u2' }] }));

  it('never reads the changes without a sink, and reports its counts', async () => {
    const reads: string[] = [];
    const { handle, applied } = workerWith(lazyApplier(reads));
    await handle(batch, { attempt: 1, acceptedAt: Date.now() });
    expect(reads).toEqual([]);
    expect(applied).toMatchObject([{ entered: 1, left: 0, updated: 0, unchanged: 1 }]);
  });

  it('hands the changes to the sinks when there are sinks', async () => {
    const reads: string[] = [];
    const sent: unknown[] = [];
    const { handle } = workerWith(lazyApplier(reads), async (...args: unknown[]) => {
      sent.push(args);
    });
    await handle(batch, { attempt: 1, acceptedAt: Date.now() });
    expect(reads.length).toBeGreaterThan(0);
    expect(sent).toMatchObject([[[{ userId: 'u1', kind: 'entered' }], 'm']]);
  });
});
