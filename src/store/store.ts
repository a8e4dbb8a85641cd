/** @module The MembershipStore port: where cohort membership lives, as a last-writer-wins register. */
import type { CohortBatch } from '../batch.ts';

/**
 * One effective change made by applying a batch: a user entered or left a cohort, or stayed in it
 * with new properties. A duplicate, a stale message or an add for someone already in with the same
 * properties yields no change.
 */
export interface MembershipChange {
  cohortId: string;
  cohortName: string;
  userId: string;
  kind: 'entered' | 'left' | 'updated';
  /** The register's new version: (computedTime, messageId) of the message that won. */
  computedTime: number;
  messageId: string;
  properties?: Record<string, unknown>;
}

export interface CohortSummary {
  cohortId: string;
  cohortName: string;
  members: number;
  /** The latest computedTime applied to this cohort, epoch seconds. */
  updatedAt: number;
}

export interface Member {
  userId: string;
  /** The computedTime of the add that made the user a member. */
  since: number;
  properties: Record<string, unknown> | null;
}

export interface MembersPage {
  members: Member[];
  /** Opaque; pass back as `cursor` for the next page. null at the end. */
  nextCursor: string | null;
}

export interface UserCohort {
  cohortId: string;
  cohortName: string;
  since: number;
}

/**
 * Applies batches as a last-writer-wins register per (cohortId, userId), ordered by
 * (computedTime, messageId). Removals are kept as tombstones, so the final state depends only on
 * the set of batches applied, never on their order or repetition.
 */
export interface MembershipStore {
  /** Applies one batch atomically and returns the effective changes it made. */
  applyBatch(batch: CohortBatch): Promise<MembershipChange[]>;
  listCohorts(): Promise<CohortSummary[]>;
  /** Members in user_id order; `cursor` is the previous page's `nextCursor`. */
  listMembers(
    cohortId: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<MembersPage>;
  userCohorts(userId: string): Promise<UserCohort[]>;
  /** Resolves when the store answers; throws with a reason otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
