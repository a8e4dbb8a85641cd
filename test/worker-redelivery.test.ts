import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../src/core/dead-letters/memory.ts';
import { createMemoryStore } from '../src/core/store/memory.ts';
import { createWorker } from '../src/core/worker.ts';
import { createMetrics } from '../src/runtime/metrics.ts';
import { cohortBatch } from './support/cohort-batch.ts';

describe('worker: a batch delivered more often than APPLY_MAX_ATTEMPTS', () => {
  it('sets it aside as a failed dead letter without applying it (it keeps killing workers)', async () => {
    const store = createMemoryStore();
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
    const handle = createWorker({
      store,
      deadLetters,
      metrics: createMetrics(),
      logger: pino({ level: 'silent' }),
      maxAttempts: 3,
    });
    const batch = cohortBatch({ users: [{ userId: 'u1' }] });
    await handle(batch, { attempt: 4, acceptedAt: Date.now() });
    expect(await store.userCohorts('u1')).toEqual([]);
    const [letter] = await deadLetters.list({ kind: 'failed' });
    expect(letter).toMatchObject({
      messageId: batch.messageId,
      reason: expect.stringMatching(/delivered 4 times/),
    });
    expect(JSON.parse(letter?.body ?? '')).toEqual(batch);

    await handle(cohortBatch({ users: [{ userId: 'u2' }] }), { attempt: 3, acceptedAt: Date.now() });
    expect(await store.userCohorts('u2')).toHaveLength(1);
  });
});
