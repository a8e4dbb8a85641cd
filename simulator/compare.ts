/** @module Every difference between the expected membership and what the endpoint lists. */
import type { ExpectedMember } from './expected.ts';
import type { ListedCohort } from './read-back.ts';

export const differenceKinds = [
  'missing',
  'extra',
  'wrong-since',
  'wrong-properties',
  'listed-twice',
] as const;
export type DifferenceKind = (typeof differenceKinds)[number];

export interface Difference {
  kind: DifferenceKind;
  cohortId: string;
  userId: string;
  /** The expected member; absent when the user should not be listed. */
  expected?: ExpectedMember;
  /** What the endpoint lists; absent when it does not list the user. */
  actual?: { since: unknown; properties: unknown };
}

export interface CompareChecks {
  /** false for the per-user-flag list, whose time is the endpoint's receive time. */
  since: boolean;
  properties: boolean;
}

/** Compares cohort by cohort, in the order given; a user wrong in two ways yields two differences. */
export function compareMembership(
  cohortIds: readonly string[],
  expected: ReadonlyMap<string, ReadonlyMap<string, ExpectedMember>>,
  listed: ReadonlyMap<string, ListedCohort>,
  checks: CompareChecks,
): Difference[] {
  const differences: Difference[] = [];
  for (const cohortId of cohortIds) {
    const want = expected.get(cohortId) ?? new Map<string, ExpectedMember>();
    const have = listed.get(cohortId) ?? { members: new Map(), listedTwice: [] };
    for (const [userId, member] of want) {
      const actualMember = have.members.get(userId);
      if (actualMember === undefined) {
        differences.push({ kind: 'missing', cohortId, userId, expected: member });
        continue;
      }
      const actual = { since: actualMember.since, properties: actualMember.properties };
      if (checks.since && !sameSince(actual.since, member.since)) {
        differences.push({ kind: 'wrong-since', cohortId, userId, expected: member, actual });
      }
      if (checks.properties && !sameJson(actual.properties ?? null, member.properties)) {
        differences.push({ kind: 'wrong-properties', cohortId, userId, expected: member, actual });
      }
    }
    for (const [userId, actualMember] of have.members) {
      if (want.has(userId)) continue;
      const actual = { since: actualMember.since, properties: actualMember.properties };
      differences.push({ kind: 'extra', cohortId, userId, actual });
    }
    for (const userId of have.listedTwice) differences.push({ kind: 'listed-twice', cohortId, userId });
  }
  return differences;
}

/** `since` is epoch seconds; a numeric string is read as its number, for endpoints that quote it. */
function sameSince(actual: unknown, expected: number): boolean {
  if (typeof actual === 'number') return actual === expected;
  return typeof actual === 'string' && actual.trim() !== '' && Number(actual) === expected;
}

/** Deep equality of JSON values; object key order does not matter. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(bRecord).length) return false;
  return aKeys.every(
    (key) => Object.hasOwn(bRecord, key) && sameJson((a as Record<string, unknown>)[key], bRecord[key]),
  );
}
