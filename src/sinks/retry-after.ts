/** @module Reads an HTTP `Retry-After` header into a wait in milliseconds. */

/**
 * Per RFC 9110 section 10.2.3, `Retry-After` is either a number of seconds or an HTTP date. Returns
 * the wait it asks for in ms (0 for a date already past), or undefined when absent or malformed.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the date forms have letters; Date.parse would also read "1.5" or "2024" as dates.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
