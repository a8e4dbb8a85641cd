/** @module Matching a presented token against the admin tokens, and naming a token in logs without revealing it. */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** First 8 hex digits of the token's SHA-256: enough to tell operators apart in a log line. */
export const fingerprint = (token: string) => digest(token).toString('hex').slice(0, 8);

/**
 * The fingerprint of the accepted token `given` equals, or undefined. Digests make every comparison
 * the same length and there is no early exit, so timing tells neither which token nor its length.
 */
export function matchToken(given: string, tokens: readonly string[]): string | undefined {
  const candidate = digest(given);
  let matched: string | undefined;
  for (const token of tokens) {
    if (timingSafeEqual(candidate, digest(token))) matched ??= fingerprint(token);
  }
  return matched;
}
