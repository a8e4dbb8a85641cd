/**
 * @module The scale run's traffic: batch `i` carries users `i * size … (i + 1) * size - 1` of cohort
 * `scale-<i mod cohorts>`, each under its id in the chosen style (bench/user-ids.ts). Built on the
 * fly: millions of distinct users do not fit in templates, and building one body takes far less
 * than applying it.
 */
import { type UserIdStyle, userIdFor } from '../user-ids.ts';

export interface ScaleTraffic {
  /** Users per batch. */
  batchUsers: number;
  cohorts: number;
  ids: UserIdStyle;
  /** Makes message_ids unique across runs. */
  runId: string;
}

export const cohortIdOf = (batch: number, traffic: ScaleTraffic) => `scale-${batch % traffic.cohorts}`;

/** The user ids of batch `batch`, in the order the body lists them. */
export function batchUserIds(batch: number, traffic: ScaleTraffic): string[] {
  const ids: string[] = [];
  const first = batch * traffic.batchUsers;
  for (let i = 0; i < traffic.batchUsers; i++) ids.push(userIdFor(first + i, traffic.ids));
  return ids;
}

/** An Amplitude-shaped body for `userIds` (user ids only, as the default template sends). */
export function scaleBody(
  options: { cohortId: string; inCohort: boolean; computedTime: number; messageId: string },
  userIds: readonly string[],
): string {
  const users = userIds.map((id) => `{"user_id":${JSON.stringify(id)}}`).join(',');
  return (
    `{"cohort_name":"Scale ${options.cohortId}","cohort_id":"${options.cohortId}","in_cohort":${options.inCohort},` +
    `"computed_time":"${options.computedTime}","message_id":"${options.messageId}","users":[${users}]}`
  );
}
