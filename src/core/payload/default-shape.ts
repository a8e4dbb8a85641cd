/** @module Amplitude's default payload, with or without `user_properties` -> CohortBatch. */
import { z } from 'zod';
import type { CohortBatch, CohortUser } from '../batch.ts';
import { IssueCollector, isJsonObject, mustBe } from './issues.ts';
import type { PayloadLimits } from './limits.ts';
import { toUserId, toWellFormed, userIdIssue } from './user-id.ts';

/**
 * 9999-12-31T23:59:59Z. A larger `computed_time` is almost surely milliseconds; accepting it would
 * make that message win the last-writer-wins register against every real one for ever.
 */
const maxEpochSeconds = 253_402_300_799;

/** Builds the (small, fixed) envelope check once per parser; the per-user part is a hand loop. */
function createEnvelopeSchema(limits: PayloadLimits) {
  const tooLong = { error: `must be at most ${limits.maxIdLength} characters` };
  const id = z
    .string({ error: expected('a non-empty string') })
    .min(1, 'must not be empty')
    .max(limits.maxIdLength, tooLong)
    .transform(toWellFormed);
  return z.compile(
    z.object({
      cohort_id: id,
      cohort_name: z
        .string({ error: expected('a string') })
        .max(limits.maxIdLength, tooLong)
        .transform(toWellFormed),
      // A template prints `${input.in_cohort?c}` as a bare boolean; a quoted "true" is a template
      // bug worth surfacing, not guessing at.
      in_cohort: z.boolean({ error: expected('a boolean') }),
      // Amplitude sends a string (a JSON number could lose precision); a number is accepted too.
      computed_time: z
        .union([z.string(), z.number()], { error: computedTimeError })
        .transform(toEpochSeconds),
      message_id: id,
    }),
  );
}

/** A zod error map in the words the hand loop uses, so all issues read alike. */
function expected(expectation: string) {
  return (issue: { input?: unknown }) => mustBe(expectation, issue.input);
}

const notWholeSeconds = 'must be a whole, non-negative number of epoch seconds, e.g. "1692206763"';

/** zod's number type already refuses NaN and ±Infinity; word that like any other bad number. */
function computedTimeError(issue: { input?: unknown }): string {
  return typeof issue.input === 'number'
    ? notWholeSeconds
    : mustBe('epoch seconds, as a string or a number', issue.input);
}

function toEpochSeconds(value: string | number, context: z.RefinementCtx): number {
  // Digits only: Number() would also take '', ' 1', '1e9', '0x10' and 'Infinity'.
  const seconds = typeof value === 'number' ? value : /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(seconds) && seconds >= 0 && seconds <= maxEpochSeconds) return seconds;
  const message =
    seconds > maxEpochSeconds && Number.isFinite(seconds)
      ? `must be epoch seconds, got ${seconds} (after year 9999: milliseconds?)`
      : notWholeSeconds;
  context.addIssue({ code: 'custom', message, input: value });
  return z.NEVER;
}

/** Returns a function that normalises one default-shape body, or throws PayloadError. */
export function createDefaultShapeParser(
  limits: PayloadLimits,
): (body: Record<string, unknown>) => CohortBatch {
  const envelopeSchema = createEnvelopeSchema(limits);
  return function parseDefaultShape(body) {
    const issues = new IssueCollector();
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) {
      for (const issue of envelope.error.issues) issues.add(issue.path.join('.'), issue.message);
    }
    // Checked even when the envelope failed, so one error lists every problem (up to the cap).
    const users = readUsers(body.users, limits, issues);
    if (!envelope.success || !issues.isEmpty) throw issues.toError();
    const { cohort_id, cohort_name, in_cohort, computed_time, message_id } = envelope.data;
    return {
      cohortId: cohort_id,
      cohortName: cohort_name,
      inCohort: in_cohort,
      computedTime: computed_time,
      messageId: message_id,
      users,
    };
  };
}

/**
 * The per-user hot loop (up to 100,000 iterations a body): plain type checks, no allocation but
 * the output, and issue paths built only on failure. Users are read, never spread or merged, so a
 * `__proto__` key (an own data property after JSON.parse) can never reach a prototype setter.
 */
function readUsers(value: unknown, limits: PayloadLimits, issues: IssueCollector): CohortUser[] {
  if (!Array.isArray(value)) {
    issues.add('users', mustBe('an array', value));
    return [];
  }
  if (value.length > limits.maxUsers) {
    issues.add('users', `must hold at most ${limits.maxUsers} users, got ${value.length}`);
    return [];
  }
  const users: CohortUser[] = [];
  for (let index = 0; index < value.length && !issues.isFull; index++) {
    const user: unknown = value[index];
    if (!isJsonObject(user)) {
      issues.add(`users.${index}`, mustBe('an object', user));
      continue;
    }
    const userId = toUserId(user.user_id, limits.maxUserIdLength);
    const properties = readProperties(user.user_properties, index, limits, issues);
    if (userId === undefined) {
      issues.add(`users.${index}.user_id`, userIdIssue(user.user_id, limits.maxUserIdLength));
      continue;
    }
    users.push(properties === undefined ? { userId } : { userId, properties });
  }
  return users;
}

/**
 * Returns the user's properties by reference (their values are opaque: stored, never interpreted
 * here, so string size cannot hurt), or undefined when there are none. Their nesting is bounded:
 * JSON.parse takes any depth, but the store's JSON.stringify recurses and would overflow the stack
 * after the batch was acknowledged, so a too-deep value must be refused here, with a 422.
 *
 * `null` counts as "no properties" rather than an error: it says the same thing as an absent key,
 * and rejecting it would 422 the whole batch, which Amplitude would retry unchanged until it gives up.
 */
function readProperties(
  value: unknown,
  index: number,
  { maxProperties, maxPropertyDepth }: PayloadLimits,
  issues: IssueCollector,
): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) {
    issues.add(`users.${index}.user_properties`, mustBe('an object (or null)', value));
    return undefined;
  }
  // One pass over the keys, allocating nothing (unlike `Object.keys`), stopping at the first excess.
  let count = 0;
  for (const key in value) {
    if (++count > maxProperties) {
      issues.add(`users.${index}.user_properties`, `must hold at most ${maxProperties} properties`);
      return undefined;
    }
    if (nestsDeeperThan(value[key], maxPropertyDepth - 1)) {
      issues.add(
        `users.${index}.user_properties`,
        `must nest at most ${maxPropertyDepth} levels deep (objects and arrays inside user_properties)`,
      );
      return undefined;
    }
  }
  return value;
}

/**
 * True when `value` holds objects or arrays more than `levels` deep (a scalar holds none). The
 * recursion itself is bounded by `levels`, so it cannot overflow the stack either.
 */
function nestsDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, levels - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (nestsDeeperThan((value as Record<string, unknown>)[key], levels - 1)) return true;
  }
  return false;
}
