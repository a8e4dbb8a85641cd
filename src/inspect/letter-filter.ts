/**
 * @module Choosing dead letters by filter (kind, cohort, time range, reason text), for the lists
 * and for replay / drop by filter. The DeadLetters port lists newest first by kind; the rest is
 * matched here, over at most `scanLimit` letters.
 */
import {
  type DeadLetters,
  type Letter,
  type LetterKind,
  letterKinds,
} from '../core/dead-letters/dead-letters.ts';
import { parseUtc } from './format.ts';

export interface LetterFilter {
  kinds: LetterKind[];
  cohort?: string;
  from?: number;
  to?: number;
  /** Case-insensitive text the reason contains. */
  reason?: string;
}

/** Letters looked at per filter: the dead letters are bounded per kind (QUARANTINE_MAX) anyway. */
export const scanLimit = 10_000;

/** Reads a filter from query or form fields; `kinds` limits which kinds the page offers. */
export function parseLetterFilter(
  fields: Record<string, string | undefined>,
  kinds: readonly LetterKind[],
): LetterFilter | { error: string } {
  const kind = fields.kind ?? '';
  if (kind !== '' && !kinds.includes(kind as LetterKind)) {
    return { error: `kind must be one of ${kinds.join(', ')}` };
  }
  const from = parseUtc(fields.from);
  const to = parseUtc(fields.to);
  if (Number.isNaN(from) || Number.isNaN(to)) return { error: 'from and to must be dates (UTC)' };
  const filter: LetterFilter = { kinds: kind === '' ? [...kinds] : [kind as LetterKind] };
  const cohort = fields.cohort?.trim();
  const reason = fields.reason?.trim();
  if (cohort) filter.cohort = cohort;
  if (reason) filter.reason = reason;
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  return filter;
}

/** The filter as query fields, to carry it into a link or a form. */
export function filterFields(filter: LetterFilter, allKinds: readonly LetterKind[]): Record<string, string> {
  const fields: Record<string, string> = {};
  if (filter.kinds.length === 1 && allKinds.length > 1) fields.kind = filter.kinds[0] as string;
  if (filter.cohort) fields.cohort = filter.cohort;
  if (filter.reason) fields.reason = filter.reason;
  if (filter.from !== undefined) fields.from = new Date(filter.from).toISOString();
  if (filter.to !== undefined) fields.to = new Date(filter.to).toISOString();
  return fields;
}

/** The cohort ids a letter concerns, read from its body (empty when the body does not say). */
export function letterCohorts(letter: Letter): string[] {
  if (letter.encoding === 'base64') return [];
  const body = safeJson(letter.body);
  if (typeof body !== 'object' || body === null) return [];
  const record = body as Record<string, unknown>;
  // A failed batch is kept in Amplitude's default shape (earlier releases kept the normalised batch).
  if (letter.kind !== 'sink' && typeof record.cohort_id === 'string') return [record.cohort_id];
  if (letter.kind === 'failed' && typeof record.cohortId === 'string') return [record.cohortId];
  if (letter.kind === 'sink' && Array.isArray(record.changes)) {
    const ids = new Set<string>();
    for (const change of record.changes) {
      const id = (change as { cohortId?: unknown } | null)?.cohortId;
      if (typeof id === 'string') ids.add(id);
    }
    return [...ids];
  }
  return [];
}

export function matchesFilter(letter: Letter, filter: LetterFilter): boolean {
  if (!filter.kinds.includes(letter.kind)) return false;
  if (filter.from !== undefined && letter.createdAt < filter.from) return false;
  if (filter.to !== undefined && letter.createdAt >= filter.to) return false;
  if (filter.reason && !letter.reason.toLowerCase().includes(filter.reason.toLowerCase())) return false;
  if (filter.cohort && !letterCohorts(letter).includes(filter.cohort)) return false;
  return true;
}

/** Every matching letter (newest first), over at most `scanLimit` of each kind. */
export async function selectLetters(deadLetters: DeadLetters, filter: LetterFilter): Promise<Letter[]> {
  const lists = await Promise.all(filter.kinds.map((kind) => deadLetters.list({ kind, limit: scanLimit })));
  return lists
    .flat()
    .filter((letter) => matchesFilter(letter, filter))
    .sort((a, b) => b.createdAt - a.createdAt);
}

export const allLetterKinds = letterKinds;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
