/** @module Builds CohortBatch values for tests: sensible defaults, override what the test is about. */
import type { CohortBatch, CohortUser } from '../../src/core/batch.ts';
import { toDefaultShapeBody } from '../../src/core/payload/decode-body.ts';
import type { QueuedBatch } from '../../src/core/queue/queue.ts';

let sequence = 0;

/** A batch adding users `u1` and `u2` to cohort `c1` at time 100, with a fresh messageId. */
export function cohortBatch(overrides: Partial<CohortBatch> = {}): CohortBatch {
  sequence += 1;
  return {
    cohortId: 'c1',
    cohortName: 'Cohort one',
    inCohort: true,
    computedTime: 100,
    messageId: `message-${String(sequence).padStart(6, '0')}`,
    users: [{ userId: 'u1' }, { userId: 'u2' }],
    ...overrides,
  };
}

/** Users without properties, by id. */
export function usersOf(...userIds: string[]): CohortUser[] {
  return userIds.map((userId) => ({ userId }));
}

/** `batch` as a queue keeps it: its body in Amplitude's default shape. */
export function queued(batch: CohortBatch, receivedAt = 1_700_000_000_000): QueuedBatch {
  return {
    messageId: batch.messageId,
    users: batch.users.length,
    body: toDefaultShapeBody(batch),
    receivedAt,
  };
}
