/**
 * @module Compares what a receiver holds with what it must hold: the oracle's state
 * (test/support/oracle.ts) for the batches that got a 200, against every cohort's members read back
 * page by page through the read API. A difference is named per (cohort, user), so a failing fault
 * test says what was lost rather than that two big arrays differ.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CohortBatch } from '../../src/core/batch.ts';
import { expectedState } from '../support/oracle.ts';

export interface MembershipDiff {
  /** `cohort/user` the receiver should list and does not: an acknowledged write lost. */
  lost: string[];
  /** `cohort/user` the receiver lists and should not: a removal lost, or a batch never acknowledged applied. */
  extra: string[];
  /** `cohort/user` listed with another `since` or other properties than the newest write's. */
  changed: string[];
  /** Cohorts whose summary (name, member count) differs, or that one side lacks. */
  cohorts: string[];
}

interface MemberJson {
  user_id: string;
  since: number;
  user_properties: unknown;
}

/** True when nothing differs. */
export const same = (diff: MembershipDiff) =>
  diff.lost.length + diff.extra.length + diff.changed.length + diff.cohorts.length === 0;

/** Reads every cohort's members from `url` and compares them with the state `acknowledged` must give. */
export async function checkMembership(
  url: string,
  acknowledged: readonly CohortBatch[],
  headers: Record<string, string> = {},
): Promise<MembershipDiff> {
  const expected = expectedState(acknowledged);
  const diff: MembershipDiff = { lost: [], extra: [], changed: [], cohorts: [] };
  const listed = (await getJson(`${url}/cohorts`, headers)) as {
    cohorts: { cohort_id: string; cohort_name: string; members: number }[];
  };
  const summaryOf = (cohort: { cohort_id: string; cohort_name: string; members: number }) =>
    `${cohort.cohort_id} ${JSON.stringify(cohort.cohort_name)} ${cohort.members}`;
  const actualSummaries = new Set(listed.cohorts.map(summaryOf));
  const expectedSummaries = new Set(
    expected.cohorts.map((c) =>
      summaryOf({ cohort_id: c.cohortId, cohort_name: c.cohortName, members: c.members }),
    ),
  );
  for (const summary of actualSummaries)
    if (!expectedSummaries.has(summary)) diff.cohorts.push(`got ${summary}`);
  for (const summary of expectedSummaries)
    if (!actualSummaries.has(summary)) diff.cohorts.push(`want ${summary}`);

  const cohortIds = new Set([
    ...expected.members.keys(),
    ...listed.cohorts.map((cohort) => cohort.cohort_id),
  ]);
  for (const cohortId of cohortIds) {
    const actual = new Map(
      (await allMembers(url, cohortId, headers)).map((member) => [member.user_id, member]),
    );
    for (const member of expected.members.get(cohortId) ?? []) {
      const got = actual.get(member.userId);
      actual.delete(member.userId);
      if (got === undefined) diff.lost.push(`${cohortId}/${member.userId}`);
      else if (
        got.since !== member.since ||
        JSON.stringify(got.user_properties) !== JSON.stringify(member.properties)
      )
        diff.changed.push(`${cohortId}/${member.userId}`);
    }
    for (const userId of actual.keys()) diff.extra.push(`${cohortId}/${userId}`);
  }
  return diff;
}

/** One line for an assertion: `no difference`, or counts with the first few of each kind. */
export function describeDiff(diff: MembershipDiff): string {
  if (same(diff)) return 'no difference';
  return (['lost', 'extra', 'changed', 'cohorts'] as const)
    .filter((kind) => diff[kind].length > 0)
    .map((kind) => `${kind} ${diff[kind].length} (${diff[kind].slice(0, 3).join(', ')}…)`)
    .join('; ');
}

/**
 * Checks until nothing differs (the worker may still be applying the last batches) or `timeoutMs`
 * passed; returns the last comparison either way, for the test to assert on.
 */
export async function awaitMembership(
  url: string,
  acknowledged: readonly CohortBatch[],
  { timeoutMs = 60_000, headers = {} }: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<MembershipDiff> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diff = await checkMembership(url, acknowledged, headers).catch((error: Error) => ({
      lost: [],
      extra: [],
      changed: [],
      cohorts: [`the read API failed: ${error.message}`],
    }));
    if (same(diff) || Date.now() > deadline) return diff;
    await sleep(250);
  }
}

/** Every member of a cohort, following `next_cursor` a page (1,000, the most allowed) at a time. */
async function allMembers(url: string, cohortId: string, headers: Record<string, string>) {
  const members: MemberJson[] = [];
  let cursor: string | null = null;
  do {
    const query = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = (await getJson(
      `${url}/cohorts/${encodeURIComponent(cohortId)}/members?limit=1000${query}`,
      headers,
    )) as {
      members: MemberJson[];
      next_cursor: string | null;
    };
    members.push(...page.members);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return members;
}

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`GET ${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}
