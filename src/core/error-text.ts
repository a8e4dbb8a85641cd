/**
 * @module One line for an error and its causes, each said once. A wrapper often quotes its cause
 * already (`POST … failed: fetch failed`), and a system error's message starts with its code
 * (`ENOENT: no such file…`): appending every cause's message, as pino does, says them twice.
 */

/** Causes followed at most: a chain longer than this is a loop or a mistake. */
const maxDepth = 8;

/**
 * `error.message`, then each cause's message not already in the text, e.g.
 * `POST http://crm/hooks failed: fetch failed: connect ECONNREFUSED 127.0.0.1:9`.
 */
export function errorText(error: unknown): string {
  let text = messageOf(error);
  const seen = new Set<unknown>([error]);
  let cause = causeOf(error);
  for (let depth = 0; cause !== undefined && !seen.has(cause) && depth < maxDepth; depth += 1) {
    seen.add(cause);
    text = joined(text, messageOf(cause));
    cause = causeOf(cause);
  }
  return text;
}

/**
 * `text` with `next` appended, unless `text` holds it already. When `text` ends with how `next`
 * starts (its code, say), the overlap is written once: `open failed: ENOENT` and
 * `ENOENT: no such file` give `open failed: ENOENT: no such file`.
 */
function joined(text: string, next: string): string {
  if (next === '' || text.includes(next)) return text;
  if (text === '' || next.includes(text)) return next;
  for (let overlap = Math.min(text.length, next.length); overlap > 0; overlap -= 1) {
    const start = text.length - overlap;
    const atWordStart = start === 0 || /[\s:]/.test(text[start - 1] as string);
    if (atWordStart && text.endsWith(next.slice(0, overlap)) && /^[\s:,]/.test(next.slice(overlap))) {
      return text + next.slice(overlap);
    }
  }
  return `${text}: ${next}`;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : String(error);
}

function causeOf(error: unknown): unknown {
  return error instanceof Error && error.cause !== undefined && error.cause !== null
    ? error.cause
    : undefined;
}
