/** @module The one internal shape every accepted payload is normalised into (docs/design.md#payloads). */

/** A user carried by a batch; `properties` is whatever user_properties Amplitude sent, if any. */
export interface CohortUser {
  userId: string;
  properties?: Record<string, unknown>;
}

/**
 * One cohort update message: one cohort, one direction, many users.
 * Everything after `payload/` sees only this type.
 */
export interface CohortBatch {
  cohortId: string;
  cohortName: string;
  /** true: the users entered the cohort; false: they left it. */
  inCohort: boolean;
  /** When Amplitude computed the update, in epoch seconds. Orders the last-writer-wins register. */
  computedTime: number;
  /** The dedupe key, and the tie-breaker when two messages share a computedTime. */
  messageId: string;
  users: CohortUser[];
}
