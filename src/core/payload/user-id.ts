/** @module Reads a `user_id`, the one per-user field both accepted shapes share. */
import { mustBe } from './issues.ts';

/**
 * Returns the user id as a string, or undefined when it cannot be one (then `userIdIssue` says
 * why; the two are split so the hot loop builds no path or message for a valid id).
 *
 * Amplitude's user ids are strings, but a template that prints `${user.user_id}` without quotes
 * turns a numeric id into a JSON number. Rejecting it would 422 the batch, and Amplitude would
 * retry the same bytes until it gives up, so safe integers are accepted and converted with
 * `String()`. Other numbers are rejected: `JSON.parse` has already rounded an id above 2^53, and
 * converting it would silently store someone else's id.
 */
export function toUserId(value: unknown, maxLength: number): string | undefined {
  if (typeof value === 'string') {
    return value.length > 0 && value.length <= maxLength ? toWellFormed(value) : undefined;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** The message for a value `toUserId` refused. */
export function userIdIssue(value: unknown, maxLength: number): string {
  if (value === '') return 'must not be empty';
  if (typeof value === 'string') return `must be at most ${maxLength} characters, got ${value.length}`;
  if (typeof value === 'number') {
    return `must be a string; the number ${value} is not a safe integer, so JSON.parse has already changed it (quote user_id in the template)`;
  }
  return mustBe('a non-empty string', value);
}

/**
 * JSON lets a body spell a lone surrogate (`"\ud800"`), which no UTF-8 text can hold: SQLite would
 * store bytes that read back as U+FFFD, so the id read would differ from the id written, and two
 * different ids would read back alike. Each lone surrogate becomes U+FFFD here, once, so the id
 * stored is the id read. (ES2024; typed here because the project's lib is ES2023.)
 */
export function toWellFormed(text: string): string {
  const unicode = text as string & { isWellFormed(): boolean; toWellFormed(): string };
  return unicode.isWellFormed() ? text : unicode.toWellFormed();
}
