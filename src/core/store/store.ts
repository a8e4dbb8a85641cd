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
  /**
   * Set on a change reported only because the apply was asked to restate (see {@link ApplyOptions}):
   * the state the register already held, which this apply did not change. `kind` is then `entered`
   * or `left`, and the version may be a newer message's than the batch's.
   */
  restated?: true;
}

/** How to apply a batch. */
export interface ApplyOptions {
  /**
   * Also report, for every user of the batch this apply does not change, the state their register
   * holds (after the apply) as a restated change: `entered` when in, `left` when out, with the
   * register's version and properties. So every distinct user of the batch yields exactly one
   * change. The worker asks for it when a batch is delivered again: its first apply may have
   * committed before the process died, before the changes reached the sinks.
   * @default false
   */
  restate?: boolean;
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
  /**
   * The computedTime of the add that holds the register now. Not the first add: which add came first
   * to the store depends on arrival order, and the state must not.
   */
  since: number;
  /** The messageId of that add: with `since`, the register's version (what a backfill sends). */
  messageId: string;
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
  /** Applies one batch atomically and returns the effective changes it made (see {@link ApplyOptions}). */
  applyBatch(batch: CohortBatch, options?: ApplyOptions): Promise<MembershipChange[]>;
  listCohorts(): Promise<CohortSummary[]>;
  /** Members in user_id order; `cursor` is the previous page's `nextCursor`. */
  listMembers(
    cohortId: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<MembersPage>;
  userCohorts(userId: string): Promise<UserCohort[]>;
  /**
   * Forgets a cohort: its registers (tombstones included) and its summary, so it leaves the lists.
   * Resolves false when the store held nothing of it. A batch of it applied later starts it afresh
   * (no tombstone is left to refuse an older one): for clearing out test cohorts, not for leaving.
   */
  removeCohort(cohortId: string): Promise<boolean>;
  /** Resolves when the store answers; throws with a reason otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}
