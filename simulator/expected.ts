/**
 * @module The oracle: the membership any correct receiver ends with, from the set of messages
 * alone. Per (cohort, user) the newest message by (computed_time, message_id) wins; a removal wins
 * like an add does, so nothing older can bring the user back. Arrival order and repetition play
 * no part, which is the whole point.
 */
import type { PlannedMessage, PlannedUser, PropertyValue } from './plan.ts';

export interface ExpectedMember {
  userId: string;
  /** The computed_time of the message that holds the membership. */
  since: number;
  /** That message's properties for the user, or null when it carried none. */
  properties: Record<string, PropertyValue> | null;
  /** The plan index of that message. */
  messageIndex: number;
}

/** One message's write to one user's register. */
export interface RegisterWrite {
  message: PlannedMessage;
  user: PlannedUser;
}

/** Per cohort id, then per user id: the writes naming the user, oldest first. */
export type RegisterHistory = Map<string, Map<string, RegisterWrite[]>>;

/**
 * Orders two messages the way the register does: computed_time, then message_id by Unicode code
 * point (which is UTF-8 byte order, and JS `<` for the ASCII ids the plan makes).
 */
export function compareVersions(a: PlannedMessage, b: PlannedMessage): number {
  if (a.computedTime !== b.computedTime) return a.computedTime - b.computedTime;
  return Buffer.compare(Buffer.from(a.messageId), Buffer.from(b.messageId));
}

/** Every message's write to every register, grouped by (cohort, user) and sorted oldest first. */
export function registerHistory(messages: readonly PlannedMessage[]): RegisterHistory {
  const history: RegisterHistory = new Map();
  for (const message of messages) {
    const cohort = history.get(message.cohortId) ?? new Map<string, RegisterWrite[]>();
    history.set(message.cohortId, cohort);
    for (const user of message.users) {
      const writes = cohort.get(user.userId) ?? [];
      cohort.set(user.userId, writes);
      writes.push({ message, user });
    }
  }
  for (const cohort of history.values()) {
    for (const writes of cohort.values()) writes.sort((a, b) => compareVersions(a.message, b.message));
  }
  return history;
}

/** The expected members of every cohort in the history (a cohort left empty maps to an empty Map). */
export function expectedMembership(history: RegisterHistory): Map<string, Map<string, ExpectedMember>> {
  const expected = new Map<string, Map<string, ExpectedMember>>();
  for (const [cohortId, users] of history) {
    const members = new Map<string, ExpectedMember>();
    expected.set(cohortId, members);
    for (const [userId, writes] of users) {
      const { message, user } = writes.at(-1) as RegisterWrite;
      if (!message.inCohort) continue;
      members.set(userId, {
        userId,
        since: message.computedTime,
        properties: user.properties ?? null,
        messageIndex: message.index,
      });
    }
  }
  return expected;
}
