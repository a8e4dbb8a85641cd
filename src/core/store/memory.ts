/**
 * @module A MembershipStore in process memory: fast, and lost with the process. For tests, for
 * trying the receiver out, and as the reference the other stores are checked against.
 */
import type { CohortBatch } from '../batch.ts';
import { type MemberRow, membersPage, pageRead } from './members-page.ts';
import {
  compareCodePoints,
  compareVersions,
  decideBatch,
  type Register,
  type RegisterVersion,
} from './register.ts';
import type { CohortSummary, MembershipStore, UserCohort } from './store.ts';

interface CohortState {
  cohortName: string;
  /** The version of the batch `cohortName` came from: the newest seen wins. */
  nameVersion: RegisterVersion;
  updatedAt: number;
  members: number;
  registers: Map<string, Register>;
  /** Member ids in code point order, rebuilt on the first listing after someone entered or left. */
  sortedMembers: string[] | undefined;
}

/** Creates an empty in-memory store. Everything it holds is lost when the process ends. */
export function createMemoryStore(): MembershipStore {
  const cohorts = new Map<string, CohortState>();
  // The cohorts each user is currently in, so userCohorts need not visit every cohort.
  const cohortsByUser = new Map<string, Set<string>>();

  const cohortFor = (batch: CohortBatch): CohortState => {
    let cohort = cohorts.get(batch.cohortId);
    if (cohort === undefined) {
      cohort = {
        cohortName: batch.cohortName,
        nameVersion: { computedTime: batch.computedTime, messageId: batch.messageId },
        updatedAt: batch.computedTime,
        members: 0,
        registers: new Map(),
        sortedMembers: undefined,
      };
      cohorts.set(batch.cohortId, cohort);
    } else if (compareVersions(batch, cohort.nameVersion) > 0) {
      cohort.cohortName = batch.cohortName;
      cohort.nameVersion = { computedTime: batch.computedTime, messageId: batch.messageId };
    }
    cohort.updatedAt = Math.max(cohort.updatedAt, batch.computedTime);
    return cohort;
  };

  const trackMembership = (cohortId: string, cohort: CohortState, userId: string, isIn: boolean) => {
    cohort.members += isIn ? 1 : -1;
    cohort.sortedMembers = undefined;
    const userCohortIds = cohortsByUser.get(userId) ?? new Set<string>();
    if (isIn) userCohortIds.add(cohortId);
    else userCohortIds.delete(cohortId);
    if (userCohortIds.size > 0) cohortsByUser.set(userId, userCohortIds);
    else cohortsByUser.delete(userId);
  };

  const sortedMembersOf = (cohort: CohortState): string[] => {
    if (cohort.sortedMembers === undefined) {
      const ids: string[] = [];
      for (const [userId, register] of cohort.registers) if (register.inCohort) ids.push(userId);
      cohort.sortedMembers = ids.sort(compareCodePoints);
    }
    return cohort.sortedMembers;
  };

  return {
    async applyBatch(batch, options) {
      // Decide before touching anything, so a throw (say, unserialisable properties) changes nothing.
      const registers = cohorts.get(batch.cohortId)?.registers;
      const { writes, changes } = decideBatch(batch, (userId) => registers?.get(userId), options);
      const cohort = cohortFor(batch);
      for (const { userId, register } of writes) cohort.registers.set(userId, register);
      for (const { userId, kind, restated } of changes) {
        if (kind !== 'updated' && !restated) {
          trackMembership(batch.cohortId, cohort, userId, kind === 'entered');
        }
      }
      return changes;
    },

    async listCohorts() {
      const summaries: CohortSummary[] = [];
      for (const [cohortId, cohort] of cohorts) {
        const { cohortName, members, updatedAt } = cohort;
        summaries.push({ cohortId, cohortName, members, updatedAt });
      }
      return summaries.sort((a, b) => compareCodePoints(a.cohortId, b.cohortId));
    },

    async listMembers(cohortId, request) {
      const { afterUserId, fetch } = pageRead(request);
      const cohort = cohorts.get(cohortId);
      if (cohort === undefined) return membersPage([], request.limit);
      const ids = sortedMembersOf(cohort);
      const start = afterUserId === undefined ? 0 : firstIndexAfter(ids, afterUserId);
      const rows = ids.slice(start, start + fetch).map((userId): MemberRow => {
        // biome-ignore lint/style/noNonNullAssertion: sortedMembers lists only ids with a register.
        const register = cohort.registers.get(userId)!;
        return [userId, register.computedTime, register.propertiesJson, register.messageId];
      });
      return membersPage(rows, request.limit);
    },

    async userCohorts(userId) {
      const result: UserCohort[] = [];
      for (const cohortId of cohortsByUser.get(userId) ?? []) {
        // biome-ignore lint/style/noNonNullAssertion: cohortsByUser only names cohorts the user is in.
        const cohort = cohorts.get(cohortId)!;
        // biome-ignore lint/style/noNonNullAssertion: being in a cohort means having a register there.
        const register = cohort.registers.get(userId)!;
        result.push({ cohortId, cohortName: cohort.cohortName, since: register.computedTime });
      }
      return result.sort((a, b) => compareCodePoints(a.cohortId, b.cohortId));
    },

    async removeCohort(cohortId) {
      const cohort = cohorts.get(cohortId);
      if (cohort === undefined) return false;
      for (const [userId, register] of cohort.registers) {
        if (register.inCohort) trackMembership(cohortId, cohort, userId, false);
      }
      cohorts.delete(cohortId);
      return true;
    },

    async check() {},

    async close() {},
  };
}

/** Binary search: the index of the first id that sorts after `after`. */
function firstIndexAfter(sortedIds: string[], after: string): number {
  let low = 0;
  let high = sortedIds.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    // biome-ignore lint/style/noNonNullAssertion: middle < high <= length.
    if (compareCodePoints(sortedIds[middle]!, after) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
