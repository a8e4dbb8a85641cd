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
