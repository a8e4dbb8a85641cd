/**
 * @module The last-writer-wins register every MembershipStore keeps per (cohortId, userId), as pure
 * functions: which write wins, what effective change it makes and how ids are ordered. Stores share
 * them so they cannot disagree.
 */
import type { CohortBatch, CohortUser } from '../batch.ts';
import type { ApplyOptions, MembershipChange } from './store.ts';

/** Orders the writes to one register: by computedTime, then by messageId. */
export interface RegisterVersion {
  computedTime: number;
  messageId: string;
}

/** The value a register holds: the winning message's direction, version and user properties. */
export interface Register extends RegisterVersion {
  inCohort: boolean;
  /**
   * The winning message's user_properties as `JSON.stringify` text, null when it carried none. Kept
   * as text so "did the properties change?" is one string compare, the same in every store; two
   * objects with the same entries in a different key order therefore count as different.
   */
  propertiesJson: string | null;
}

/**
 * What writing an incoming value over a register does:
 * - `stale`: it is older than or the same message as the stored one; nothing is written.
 * - `unchanged`: it wins and the register takes its version, but membership and properties stay.
 * - `entered` | `left` | `updated`: it wins and makes that effective change.
 */
export type WriteOutcome = 'stale' | 'unchanged' | MembershipChange['kind'];

/**
 * Compares two strings by Unicode code point, which is also the byte order of their UTF-8 encoding:
 * the order SQLite's BINARY collation, Postgres' `COLLATE "C"` and Redis use. It differs from JS `<`
 * (UTF-16 code units) only when a character above U+FFFF meets one in U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a.charCodeAt(index) === b.charCodeAt(index)) index++;
  if (index === length) return a.length - b.length;
  let unitA = a.charCodeAt(index);
  let unitB = b.charCodeAt(index);
  if (unitA >= 0xd800 && unitB >= 0xd800) {
    // Surrogates (0xD800..0xDFFF) encode code points above every BMP unit: move them past 0xFFFF.
    unitA = unitA <= 0xdfff ? unitA + 0x2000 : unitA - 0x800;
    unitB = unitB <= 0xdfff ? unitB + 0x2000 : unitB - 0x800;
  }
  return unitA - unitB;
}

/** Negative, zero or positive as `a` is older than, the same message as, or newer than `b`. */
export function compareVersions(a: RegisterVersion, b: RegisterVersion): number {
  if (a.computedTime !== b.computedTime) return a.computedTime < b.computedTime ? -1 : 1;
  return compareCodePoints(a.messageId, b.messageId);
}

/** Decides what writing `incoming` over `stored` (undefined: never written) does; see {@link WriteOutcome}. */
export function resolveWrite(stored: Register | undefined, incoming: Register): WriteOutcome {
  if (stored === undefined) return incoming.inCohort ? 'entered' : 'unchanged';
  if (compareVersions(incoming, stored) <= 0) return 'stale';
  if (!stored.inCohort) return incoming.inCohort ? 'entered' : 'unchanged';
  if (!incoming.inCohort) return 'left';
  return stored.propertiesJson === incoming.propertiesJson ? 'unchanged' : 'updated';
}

/** What applying one batch does to one cohort, decided before anything is written. */
export interface BatchDecision {
  /** The registers to store, one per user whose write wins, in batch order. */
  writes: { userId: string; register: Register }[];
  /** The effective changes (and with `restate`, the restated ones), in batch order. */
  changes: MembershipChange[];
  /** Users entered minus users left: how the cohort's member count moves. */
  memberDelta: number;
}

/**
 * Decides what `batch` does given the registers stored before it (`storedRegister` answers
 * undefined for a user never written). A user listed twice is decided in order, so the second
 * listing sees the first: being the same message, it is a no-op. With `restate`, a user the batch
 * does not change is reported with the register it leaves in place (see {@link ApplyOptions}).
 */
export function decideBatch(
  batch: CohortBatch,
  storedRegister: (userId: string) => Register | undefined,
  options: ApplyOptions = {},
): BatchDecision {
  const { inCohort, computedTime, messageId } = batch;
  const decision: BatchDecision = { writes: [], changes: [], memberDelta: 0 };
  // Every listing after a user's first is the same message again: a no-op, and never restated twice.
  const decided = new Set<string>();
  for (const user of batch.users) {
    const { userId, properties } = user;
    if (decided.has(userId)) continue;
    decided.add(userId);
    const register: Register = {
      inCohort,
      computedTime,
      messageId,
      propertiesJson: toPropertiesJson(properties),
    };
    const stored = storedRegister(userId);
    const outcome = resolveWrite(stored, register);
    if (outcome !== 'stale') decision.writes.push({ userId, register });
    if (outcome === 'entered') decision.memberDelta += 1;
    else if (outcome === 'left') decision.memberDelta -= 1;
    const change = outcomeChange(batch, user, outcome, options.restate === true, stored);
    if (change !== undefined) decision.changes.push(change);
  }
  return decision;
}

/**
 * The change a user's {@link WriteOutcome} reports, if any: the effective change; with `restate`
 * also the batch's own state for an unchanged write, and for a stale one the register that `held`.
 */
export function outcomeChange(
  batch: CohortBatch,
  user: CohortUser,
  outcome: WriteOutcome,
  restate: boolean,
  held: Register | undefined,
): MembershipChange | undefined {
  if (outcome === 'unchanged') return restate ? batchChange(batch, user, undefined) : undefined;
  if (outcome !== 'stale') return batchChange(batch, user, outcome);
  if (!restate) return undefined;
  if (held === undefined) throw new Error(`No held register to restate for user ${user.userId}`);
  return restatedChange(batch, user.userId, held);
}

/**
 * The change the batch's own write made for `user`: `kind` when it was effective; `undefined` for a
 * write that won without changing anything, restated as the batch's direction.
 */
function batchChange(
  batch: CohortBatch,
  user: CohortUser,
  kind: MembershipChange['kind'] | undefined,
): MembershipChange {
  const { cohortId, cohortName, inCohort, computedTime, messageId } = batch;
  return {
    cohortId,
    cohortName,
    userId: user.userId,
    kind: kind ?? (inCohort ? 'entered' : 'left'),
    computedTime,
    messageId,
    ...(user.properties === undefined ? {} : { properties: user.properties }),
    ...(kind === undefined ? { restated: true as const } : {}),
  };
}

/** The state `register` holds for `userId` (a newer message's), reported as a change although nothing changed. */
function restatedChange(batch: CohortBatch, userId: string, register: Register): MembershipChange {
  const { cohortId, cohortName } = batch;
  const { inCohort, computedTime, messageId, propertiesJson } = register;
  return {
    cohortId,
    cohortName,
    userId,
    kind: inCohort ? 'entered' : 'left',
    computedTime,
    messageId,
    ...(propertiesJson === null ? {} : { properties: JSON.parse(propertiesJson) as Record<string, unknown> }),
    restated: true,
  };
}

/** The text a register keeps for a user's properties (see {@link Register.propertiesJson}). */
export function toPropertiesJson(properties: Record<string, unknown> | undefined): string | null {
  return properties === undefined ? null : JSON.stringify(properties);
}
