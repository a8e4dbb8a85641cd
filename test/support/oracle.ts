/**
 * @module The expected membership after a set of batches, worked out the plainest way possible
 * (for each cohort and user, take the newest write), on purpose sharing no code with the stores.
 */
import type { CohortBatch } from '../../src/core/batch.ts';
import type { CohortSummary, Member, UserCohort } from '../../src/core/store/store.ts';

export interface ExpectedState {
  /** Every cohort any batch named, in cohort id order. */
  cohorts: CohortSummary[];
  /** Members per cohort id, in user id order. */
  members: Map<string, Member[]>;
  /** Cohorts per user id, in cohort id order; users in no cohort are absent. */
  userCohorts: Map<string, UserCohort[]>;
}

/** Ids and message ids are ordered by their UTF-8 bytes (Unicode code point order). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Newer first: by computedTime, then messageId. */
function compareNewestFirst(a: CohortBatch, b: CohortBatch): number {
  return b.computedTime - a.computedTime || compareUtf8(b.messageId, a.messageId);
}

/**
 * The state every store must reach after applying `batches` in any order, any number of times.
 * Assumes, like Amplitude, that a messageId names one message (one cohort, one content).
 */
export function expectedState(batches: readonly CohortBatch[]): ExpectedState {
  const newestFirst = [...batches].sort(compareNewestFirst);

  const cohorts: CohortSummary[] = [];
  const members = new Map<string, Member[]>();
  const userCohorts = new Map<string, UserCohort[]>();
  const cohortIds = [...new Set(batches.map((batch) => batch.cohortId))].sort(compareUtf8);

  for (const cohortId of cohortIds) {
    const cohortBatches = newestFirst.filter((batch) => batch.cohortId === cohortId);
    // biome-ignore lint/style/noNonNullAssertion: the cohort id came from one of these batches.
    const newest = cohortBatches[0]!;
    const decided = new Set<string>();
    const cohortMembers: Member[] = [];
    // The first time a user shows up in newest-first order is their winning write; within one
    // batch, the first listing of a user is the one that counts.
    for (const batch of cohortBatches) {
      for (const user of batch.users) {
        if (decided.has(user.userId)) continue;
        decided.add(user.userId);
        if (!batch.inCohort) continue;
        const properties = user.properties === undefined ? null : JSON.parse(JSON.stringify(user.properties));
        cohortMembers.push({
          userId: user.userId,
          since: batch.computedTime,
          messageId: batch.messageId,
          properties,
        });
        const cohortsOfUser = userCohorts.get(user.userId) ?? [];
        cohortsOfUser.push({ cohortId, cohortName: newest.cohortName, since: batch.computedTime });
        userCohorts.set(user.userId, cohortsOfUser);
      }
    }
    cohortMembers.sort((a, b) => compareUtf8(a.userId, b.userId));
    members.set(cohortId, cohortMembers);
    cohorts.push({
      cohortId,
      cohortName: newest.cohortName,
      members: cohortMembers.length,
      updatedAt: Math.max(...cohortBatches.map((batch) => batch.computedTime)),
    });
  }
  return { cohorts, members, userCohorts };
}
