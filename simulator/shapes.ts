/**
 * @module A planned message as the bytes Amplitude would POST in each shape: what the matching
 * template in templates/ renders (JSON whitespace aside).
 */
import type { Shape } from './options.ts';
import type { PlannedMessage } from './plan.ts';

/** The request body for `message` in `shape`. */
export function renderBody(message: PlannedMessage, shape: Shape): string {
  if (shape === 'per-user-flags') {
    const flag = `amplitude_${message.cohortName}_${message.cohortId}`;
    return JSON.stringify(message.users.map((user) => ({ user_id: user.userId, [flag]: message.inCohort })));
  }
  return JSON.stringify({
    cohort_name: message.cohortName,
    cohort_id: message.cohortId,
    in_cohort: message.inCohort,
    // A string, as Amplitude sends it.
    computed_time: String(message.computedTime),
    message_id: message.messageId,
    users: message.users.map((user) =>
      shape === 'default' && user.properties !== undefined
        ? { user_id: user.userId, user_properties: user.properties }
        : { user_id: user.userId },
    ),
  });
}

/**
 * Messages whose body is byte-identical to an earlier, different message's (possible only in the
 * per-user-flag list, which has no message_id: a user who leaves and re-enters alone sends the
 * same bytes twice). A receiver that dedupes that shape on the body cannot tell them apart.
 * Returns `[laterIndex, earlierIndex]` pairs.
 */
export function findRepeatedBodies(bodies: readonly string[]): [number, number][] {
  const firstIndex = new Map<string, number>();
  const repeats: [number, number][] = [];
  bodies.forEach((body, index) => {
    const earlier = firstIndex.get(body);
    if (earlier === undefined) firstIndex.set(body, index);
    else repeats.push([index, earlier]);
  });
  return repeats;
}
