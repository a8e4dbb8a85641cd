/** @module How the pages write times, durations and counts: UTC, so every operator reads the same. */

/** `2024-05-01 12:00:00.123Z`, or `—` when there is none. */
export function formatTime(epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined || !Number.isFinite(epochMs)) return '—';
  const date = new Date(epochMs);
  if (Number.isNaN(date.getTime())) return '—';
  return date.toISOString().replace('T', ' ');
}

/** Amplitude's computed_time is epoch seconds. */
export const formatSeconds = (epochSeconds: number | null | undefined) =>
  epochSeconds === null || epochSeconds === undefined ? '—' : formatTime(epochSeconds * 1000);

/** `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms * 10) / 10} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const formatCount = (value: number) => value.toLocaleString('en-US');

/** `in` / `out` for a batch's direction, `—` when the body never said. */
export const formatDirection = (inCohort: boolean | undefined) =>
  inCohort === undefined ? '—' : inCohort ? 'in (entered)' : 'out (left)';

/** Parses a `datetime-local` value (or any ISO text) as UTC; undefined when empty, NaN when unreadable. */
export function parseUtc(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const trimmed = text.trim();
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(trimmed) ? trimmed : `${trimmed}Z`;
  return Date.parse(zoned);
}

/** The value a `datetime-local` input shows for an instant (UTC, to the minute). */
export const utcInputValue = (epochMs: number | undefined) =>
  epochMs === undefined ? '' : new Date(epochMs).toISOString().slice(0, 16);
