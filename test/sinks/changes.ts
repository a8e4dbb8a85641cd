/**
 * @module Builds MembershipChange values for sink tests: sensible defaults, override what matters;
 * and queued batches, as the webhook queues them, for tests that drive a worker.
 */
import type { CohortBatch } from '../../src/core/batch.ts';
import { toDefaultShapeBody } from '../../src/core/payload/decode-body.ts';
import type { QueuedBatch } from '../../src/core/queue/queue.ts';
import type { MembershipChange } from '../../src/core/store/store.ts';

/** Overrides; `properties: undefined` makes a change without properties. */
export type ChangeOverrides = { [K in keyof MembershipChange]?: MembershipChange[K] | undefined };

/** `u1` entering cohort `c1` with message `m-100` at time 100, on the pro plan. */
export function membershipChange(overrides: ChangeOverrides = {}): MembershipChange {
  const change = {
    cohortId: 'c1',
    cohortName: 'Power users',
    userId: 'u1',
    kind: 'entered',
    computedTime: 100,
    messageId: 'm-100',
    properties: { plan: 'pro' },
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(change).filter(([, value]) => value !== undefined),
  ) as unknown as MembershipChange;
}

/** One change per user, all from one message, like one applied batch. */
export function changesFor(userIds: readonly string[], overrides: ChangeOverrides = {}): MembershipChange[] {
  return userIds.map((userId) => membershipChange({ userId, ...overrides }));
}

/** `batch` as a queue hands it to the worker: its body in Amplitude's default shape. */
export function queuedBatch(batch: CohortBatch, receivedAt = Date.now()): QueuedBatch {
  return {
    messageId: batch.messageId,
    users: batch.users.length,
    body: toDefaultShapeBody(batch),
    receivedAt,
  };
}
