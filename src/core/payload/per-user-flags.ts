/**
 * @module The per-user flag list `[{"user_id": …, "amplitude_<cohort name>_<cohort id>": true|false}, …]`
 * (Amplitude's third example template, corrected) -> CohortBatch.
 */
import { createHash } from 'node:crypto';
import type { CohortBatch, CohortUser } from '../batch.ts';
import { PayloadError } from '../errors.ts';
import { IssueCollector, isJsonObject, mustBe, quote } from './issues.ts';
import type { PayloadLimits } from './limits.ts';
import { toUserId, toWellFormed, userIdIssue } from './user-id.ts';

const flagKeyPrefix = 'amplitude_';
const flagKeyShape = `"${flagKeyPrefix}<cohort name>_<cohort id>"`;

interface FlagKey {
  key: string;
  /** The entry that first named it, for messages about entries that disagree. */
  index: number;
  inCohort: boolean;
}

/**
 * Normalises a per-user flag list, or throws PayloadError.
 *
 * One message carries one cohort and one direction (docs/amplitude.md#what-amplitude-sends), so every entry must name the
 * same key with the same boolean. The list has no message_id and no computed_time: the dedupe key
 * is a SHA-256 of the raw body (a retry sends the same bytes) and the time is the receive time.
 */
export function parsePerUserFlags(
  entries: unknown[],
  rawBody: string,
  receivedAtMs: number,
  limits: PayloadLimits,
): CohortBatch {
  if (entries.length === 0) {
    const message = 'the per-user flag list is empty, so it names no cohort; send at least one entry';
    throw new PayloadError([{ path: '', message }]);
  }
  if (entries.length > limits.maxUsers) {
    throw new PayloadError([
      { path: '', message: `must hold at most ${limits.maxUsers} users, got ${entries.length}` },
    ]);
  }
  const issues = new IssueCollector();
  let first: FlagKey | undefined;
  const users: CohortUser[] = [];
  for (let index = 0; index < entries.length && !issues.isFull; index++) {
    const entry: unknown = entries[index];
    if (!isJsonObject(entry)) {
      issues.add(`${index}`, mustBe('an object', entry));
      continue;
    }
    const userId = toUserId(entry.user_id, limits.maxUserIdLength);
    if (userId === undefined) {
      issues.add(`${index}.user_id`, userIdIssue(entry.user_id, limits.maxUserIdLength));
    }
    const key = findFlagKey(entry, index, first?.key, limits, issues);
    if (key === undefined) continue;
    const flag = entry[key];
    if (typeof flag !== 'boolean') {
      issues.add(`${index}.${key}`, mustBe('true or false', flag));
      continue;
    }
    if (first === undefined) {
      first = { key, index, inCohort: flag };
    } else if (key !== first.key) {
      issues.add(
        `${index}`,
        `names ${quote(key)} but entry ${first.index} names ${quote(first.key)}; one message must carry one cohort`,
      );
    } else if (flag !== first.inCohort) {
      issues.add(
        `${index}.${key}`,
        `is ${flag} but entry ${first.index} is ${first.inCohort}; one message must carry one direction (all adds or all removes)`,
      );
    }
    if (userId !== undefined) users.push({ userId });
  }
  // A non-empty list either names a key or has recorded why not, so `first` is set when no issue is.
  const cohort = first === undefined ? undefined : splitFlagKey(first, limits, issues);
  if (first === undefined || cohort === undefined || !issues.isEmpty) throw issues.toError();
  return {
    cohortId: cohort.cohortId,
    cohortName: cohort.cohortName,
    inCohort: first.inCohort,
    computedTime: Math.floor(receivedAtMs / 1000),
    messageId: `sha256:${createHash('sha256').update(rawBody).digest('hex')}`,
    users,
  };
}

/**
 * Finds the entry's one `amplitude_…` key; other keys are ignored, as in the default shape.
 * `expectedKey` (the first entry's) is compared first: JSON.parse interns keys, so `===` is usually a
 * pointer check, and it spares the costly `startsWith` on nearly every key of a valid list.
 */
function findFlagKey(
  entry: Record<string, unknown>,
  index: number,
  expectedKey: string | undefined,
  limits: PayloadLimits,
  issues: IssueCollector,
): string | undefined {
  let found: string | undefined;
  for (const key in entry) {
    if (key === 'user_id' || (key !== expectedKey && !key.startsWith(flagKeyPrefix))) continue;
    if (found !== undefined) {
      issues.add(`${index}`, `has two cohort keys, ${quote(found)} and ${quote(key)}; expected one`);
      return undefined;
    }
    found = key;
  }
  if (found === undefined) {
    issues.add(`${index}`, `has no ${flagKeyShape} key`);
  } else if (found.length > flagKeyPrefix.length + 2 * limits.maxIdLength + 1) {
    // Checked before the key goes into any issue path, so no path or message can grow unbounded.
    issues.add(`${index}`, `has a cohort key of ${found.length} characters, longer than any valid one`);
    return undefined;
  }
  return found;
}

/**
 * The cohort name may itself contain `_` and spaces, while Amplitude's cohort ids do not, so the
 * id is whatever follows the LAST underscore.
 */
function splitFlagKey(
  { key, index }: FlagKey,
  limits: PayloadLimits,
  issues: IssueCollector,
): { cohortId: string; cohortName: string } | undefined {
  const separator = key.lastIndexOf('_');
  const cohortName = key.slice(flagKeyPrefix.length, separator);
  const cohortId = separator < flagKeyPrefix.length ? '' : key.slice(separator + 1);
  const path = `${index}.${key}`;
  if (cohortId === '') {
    issues.add(path, `key must look like ${flagKeyShape}, with a non-empty cohort id after the last "_"`);
  } else if (cohortId.length > limits.maxIdLength) {
    issues.add(path, `key's cohort id must be at most ${limits.maxIdLength} characters`);
  } else if (cohortName.length > limits.maxIdLength) {
    issues.add(path, `key's cohort name must be at most ${limits.maxIdLength} characters`);
  } else {
    return { cohortId: toWellFormed(cohortId), cohortName: toWellFormed(cohortName) };
  }
  return undefined;
}
