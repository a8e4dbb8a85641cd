/**
 * @module Stops a run whose first writes were all refused for their credentials (401 or 403): the
 * rest of the plan would be refused the same way, and the read-back's error would then point at
 * the read URL rather than at the secret, most often a shell variable that was never set.
 */
import type { AttemptRecord } from './deliver.ts';

/** Writes answered before deciding: a few, so one refused request among accepted ones stops nothing. */
export const refusalSample = 4;

const refused = (attempt: AttemptRecord) => attempt.status === 401 || attempt.status === 403;

/** True once the first {@link refusalSample} answered writes were all 401 or 403. */
export function everyWriteRefused(attempts: readonly AttemptRecord[]): boolean {
  const first = attempts.slice(0, refusalSample);
  return first.length === refusalSample && first.every(refused);
}

/** What the operator needs to fix it: the status, what was sent (secrets masked), the likely cause. */
export function refusalMessage(
  attempts: readonly AttemptRecord[],
  sent: { url: string; headers: Record<string, string> },
  unsent: number,
): { error: string; hint: string } {
  const statuses = [...new Set(attempts.slice(0, refusalSample).map((attempt) => attempt.status))].join(
    ' or ',
  );
  const credentials = describeCredentials(sent);
  return {
    error: `the endpoint answered ${statuses} to each of the first ${refusalSample} writes: it refused the credentials, so the other ${unsent} messages were not sent`,
    hint: `sent ${credentials}. The secret may be empty or wrong: a --header "Authorization: Bearer $SECRET" whose SECRET is not set in this shell sends an empty one`,
  };
}

/** The headers and `?token=` sent, with every secret replaced by its length (or `<empty>`). */
export function describeCredentials(sent: { url: string; headers: Record<string, string> }): string {
  const parts = Object.entries(sent.headers).map(([name, value]) => `${name}: ${maskedValue(value)}`);
  const token = new URL(sent.url).searchParams.get('token');
  // Not written as `?token=…`: the CLI masks whatever follows that, the length included.
  if (token !== null) parts.push(`token (query parameter): ${masked(token)}`);
  return parts.length === 0 ? 'no header and no token query parameter (no secret at all)' : parts.join(', ');
}

/** `Bearer <secret>` keeps its scheme; the secret itself is never printed. */
function maskedValue(value: string): string {
  const scheme = /^(Bearer|Basic|Token)(?:\s+|$)(.*)$/i.exec(value);
  return scheme ? `${scheme[1]} ${masked(scheme[2] ?? '')}` : masked(value);
}

function masked(secret: string): string {
  return secret === '' ? '<empty>' : `<${secret.length} characters>`;
}
