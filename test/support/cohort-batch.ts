/** @module Builds CohortBatch values for tests: sensible defaults, override what the test is about. */
import type { CohortBatch, CohortUser } from '../../src/core/batch.ts';

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
