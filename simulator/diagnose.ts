/**
 * @module Names the likely cause of each difference, from what the sender knows: the messages
 * naming the user, and when each was sent and acknowledged. The endpoint's state usually matches
 * some older message E instead of the newest one W; how E and W travelled tells why.
 */
import type { Difference } from './compare.ts';
import { sameJson } from './compare.ts';
import type { AttemptRecord } from './deliver.ts';
import type { RegisterHistory, RegisterWrite } from './expected.ts';
import type { PlannedMessage } from './plan.ts';

export const causes = {
  'arrival-order': 'applies messages in arrival order instead of by (computed_time, message_id)',
  'reapplied-duplicate': 'applies a message_id it has already seen again (duplicates, retries)',
  dropped: 'answered 2xx but never applied the change (dropped batches)',
  'taken-for-duplicate': 'answered "duplicate" to a message it had never seen',
  undelivered: 'never acknowledged the message (see the status codes)',
  mangled: 'stored different properties from the ones sent',
  paging: 'lists a user twice across pages (cursor paging)',
  'unordered-shape':
    'could not order per-user-flags messages sent within a second of each other (the shape has no time)',
  unexplained: 'lists something no message explains',
} as const;
export type Cause = keyof typeof causes;

export interface DiagnosedDifference extends Difference {
  cause: Cause;
  /** One sentence naming the messages involved. */
  explanation: string;
}

/** A message acknowledged with 2xx of which no effect is visible: every user it should hold is wrong. */
export interface LostMessage {
  messageId: string;
  cohortId: string;
  inCohort: boolean;
  users: number;
}

/** How one message travelled: when it was first sent, first acknowledged, and how often. */
interface Timeline {
  firstStart: number;
  firstAck?: AttemptRecord;
  acks: number;
  answers: Set<string>;
}

export interface Diagnosis {
  differences: DiagnosedDifference[];
  lostMessages: LostMessage[];
}

export interface DiagnoseOptions {
  /** false for the per-user-flag list: the endpoint's `since` is its receive time, pointing at no message. */
  sinceIsComputedTime: boolean;
  /**
   * true for the per-user-flag list sent without steps a second apart: an endpoint timing it by
   * arrival, in whole seconds, cannot order two messages about one user.
   */
  orderUnknowable: boolean;
}

/** Diagnoses every difference. */
export function diagnose(
  differences: readonly Difference[],
  history: RegisterHistory,
  attempts: readonly AttemptRecord[],
  { sinceIsComputedTime, orderUnknowable }: DiagnoseOptions = {
    sinceIsComputedTime: true,
    orderUnknowable: false,
  },
): Diagnosis {
  const timelines = timelinesOf(attempts);
  const lost = lostMessages(differences, history, timelines);
  const lostIds = new Set(lost.map((message) => message.messageId));
  const examined = differences.map((difference) => {
    const writes = history.get(difference.cohortId)?.get(difference.userId) ?? [];
    return examine(difference, writes, timelines, lostIds, sinceIsComputedTime);
  });
  const droppingEstablished = examined.some((finding) =>
    'cause' in finding ? finding.cause === 'dropped' : onlyDroppingExplains(finding),
  );
  const diagnosed = differences.map((difference, index) => {
    const finding = examined[index] as Finding | Evidence;
    return {
      ...difference,
      ...('cause' in finding ? finding : decide(finding, droppingEstablished, orderUnknowable)),
    };
  });
  return { differences: diagnosed, lostMessages: lost };
}

function timelinesOf(attempts: readonly AttemptRecord[]): Map<number, Timeline> {
  const timelines = new Map<number, Timeline>();
  for (const attempt of attempts) {
    const timeline = timelines.get(attempt.messageIndex) ?? {
      firstStart: attempt.startedAt,
      acks: 0,
      answers: new Set<string>(),
    };
    timelines.set(attempt.messageIndex, timeline);
    timeline.firstStart = Math.min(timeline.firstStart, attempt.startedAt);
    if (attempt.status === undefined || attempt.status < 200 || attempt.status >= 300) continue;
    timeline.acks += 1;
    if (attempt.answer !== undefined) timeline.answers.add(attempt.answer);
    if (timeline.firstAck === undefined || attempt.endedAt < timeline.firstAck.endedAt)
      timeline.firstAck = attempt;
  }
  return timelines;
}

function lostMessages(
  differences: readonly Difference[],
  history: RegisterHistory,
  timelines: Map<number, Timeline>,
): LostMessage[] {
  const wrong = new Set(differences.map((difference) => `${difference.cohortId}\u0000${difference.userId}`));
  const held = new Map<PlannedMessage, { users: number; wrong: number }>();
  for (const [cohortId, users] of history) {
    for (const [userId, writes] of users) {
      const winner = (writes.at(-1) as RegisterWrite).message;
      const count = held.get(winner) ?? { users: 0, wrong: 0 };
      held.set(winner, count);
      count.users += 1;
      if (wrong.has(`${cohortId}\u0000${userId}`)) count.wrong += 1;
    }
  }
  const lost: LostMessage[] = [];
  for (const [message, count] of held) {
    if (count.wrong === 0 || count.wrong < count.users || !timelines.get(message.index)?.firstAck) continue;
    const { messageId, cohortId, inCohort } = message;
    lost.push({ messageId, cohortId, inCohort, users: count.users });
  }
  return lost.sort((a, b) => (a.messageId < b.messageId ? -1 : 1));
}

const describeMessage = (message: PlannedMessage) =>
  `${message.inCohort ? 'add' : 'remove'} ${message.messageId} (computed_time ${message.computedTime})`;

type Finding = { cause: Cause; explanation: string };

/** What is known when the endpoint shows an older message's effect instead of the newest one's. */
interface Evidence {
  /** "the endpoint shows older … instead of newer …" */
  shows: string;
  /** The older message was first sent after the newer one was acknowledged. */
  olderSentAfter: boolean;
  /** The newer message is a lost one: none of its users shows its change. */
  newestLost: boolean;
  olderAcks: number;
  /** The two were in flight at the same time. */
  overlapped: boolean;
}

/** Nothing but a dropped message explains it: no reordering, no repetition. */
const onlyDroppingExplains = (evidence: Evidence) =>
  !evidence.olderSentAfter && evidence.olderAcks < 2 && !evidence.overlapped;

/**
 * Settles the cause from the evidence. A lost message is put down to dropping only when some
 * difference in the run has no other explanation: a receiver that re-applies duplicates can also
 * leave every user of one message wrong, when each of them had a duplicated older message.
 */
function decide(evidence: Evidence, droppingEstablished: boolean, orderUnknowable: boolean): Finding {
  const { shows } = evidence;
  if (orderUnknowable) {
    return {
      cause: 'unordered-shape',
      explanation: `${shows}; the flag list carries no time, so the endpoint can only order by arrival, and these were sent less than a second apart`,
    };
  }
  if (evidence.olderSentAfter) {
    return {
      cause: 'arrival-order',
      explanation: `${shows}; the older one was first sent after the newer one was acknowledged`,
    };
  }
  if (droppingEstablished && evidence.newestLost) {
    return {
      cause: 'dropped',
      explanation: `${shows}; no user of the newer message shows its change: it was dropped`,
    };
  }
  if (evidence.olderAcks >= 2) {
    return {
      cause: 'reapplied-duplicate',
      explanation: `${shows}; the older one was acknowledged ${evidence.olderAcks} times (duplicates and retries)`,
    };
  }
  if (evidence.overlapped) {
    return {
      cause: 'arrival-order',
      explanation: `${shows}; the two were in flight together and the older one won`,
    };
  }
  return {
    cause: 'dropped',
    explanation: `${shows}; the newer one was acknowledged but its change is not visible`,
  };
}

function examine(
  difference: Difference,
  writes: readonly RegisterWrite[],
  timelines: Map<number, Timeline>,
  lostIds: ReadonlySet<string>,
  sinceIsComputedTime: boolean,
): Finding | Evidence {
  if (difference.kind === 'listed-twice') {
    return { cause: 'paging', explanation: 'the user appears on more than one members page' };
  }
  const newest = writes.at(-1)?.message;
  if (newest === undefined) {
    return { cause: 'unexplained', explanation: 'no message ever named this user in this cohort' };
  }
  const newestTimeline = timelines.get(newest.index);
  const newestAck = newestTimeline?.firstAck;
  if (newestTimeline === undefined || newestAck === undefined) {
    return {
      cause: 'undelivered',
      explanation: `the newest message, ${describeMessage(newest)}, was never acknowledged`,
    };
  }
  if (newestTimeline.answers.size > 0 && !newestTimeline.answers.has('accepted')) {
    return {
      cause: 'taken-for-duplicate',
      explanation: `the endpoint answered "duplicate" to ${describeMessage(newest)}, which it had never seen: its dedupe key took it for an earlier message`,
    };
  }
  const shown = shownWrite(difference, writes, sinceIsComputedTime);
  if (shown === undefined) {
    if (difference.kind === 'missing' || difference.kind === 'extra') {
      return {
        cause: 'dropped',
        explanation: `${describeMessage(newest)} was acknowledged but its change is not visible`,
      };
    }
    return {
      cause: 'unexplained',
      explanation: `since ${String(difference.actual?.since)} matches no add naming this user`,
    };
  }
  if (shown.message === newest) {
    return {
      cause: 'mangled',
      explanation: `the endpoint holds ${describeMessage(newest)} with other properties`,
    };
  }
  const older = shown.message;
  const olderTimeline = timelines.get(older.index);
  const olderAck = olderTimeline?.firstAck;
  return {
    shows: `the endpoint shows older ${describeMessage(older)} instead of newer ${describeMessage(newest)}`,
    olderSentAfter: olderTimeline !== undefined && olderTimeline.firstStart > newestAck.endedAt,
    newestLost: lostIds.has(newest.messageId),
    olderAcks: olderTimeline?.acks ?? 0,
    overlapped: olderAck !== undefined && olderAck.endedAt > newestAck.startedAt,
  };
}

/**
 * The write whose effect the endpoint lists: the add whose computed_time is the listed `since`
 * (and whose properties match, if several), or for a user wrongly absent the latest older removal.
 * An extra user whose `since` tells nothing (the flag list's receive time) is put down to the
 * latest older add.
 */
function shownWrite(
  difference: Difference,
  writes: readonly RegisterWrite[],
  sinceIsComputedTime: boolean,
): RegisterWrite | undefined {
  const older = writes.slice(0, -1);
  if (difference.actual === undefined) return older.findLast((write) => !write.message.inCohort);
  const latestOlderAdd = () => older.findLast((write) => write.message.inCohort);
  if (!sinceIsComputedTime) return difference.kind === 'extra' ? latestOlderAdd() : writes.at(-1);
  const { since, properties } = difference.actual;
  const sameTime = writes.filter(
    (write) => write.message.inCohort && write.message.computedTime === Number(since),
  );
  const match =
    sameTime.findLast((write) => sameJson(write.user.properties ?? null, properties ?? null)) ??
    sameTime.at(-1);
  return match ?? (difference.kind === 'extra' ? latestOlderAdd() : undefined);
}
