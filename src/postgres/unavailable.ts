/**
 * @module Which Postgres failures mean the server is away (down, restarting, unreachable) rather than
 * refusing what it was sent: the worker waits for the first and retries, and sets the second aside.
 */

/** SQLSTATEs of a server that cannot serve now: shutting down, crashed, starting up, too many connections. */
const awayStates = new Set(['57P01', '57P02', '57P03', '53300']);

/** Socket errors of a server that is not there, or dropped the connection. */
const awaySocketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * pg's own messages for a connection that ended, could not open in time, or broke mid-query (it
 * gives these plain Errors no code).
 */
const awayMessages = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Query read timeout/,
];

/** True when `error` says the Postgres server is away, not that it refused the statement. */
export function isPostgresAway(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') {
    // Class 08: connection exceptions.
    if (code.startsWith('08') || awayStates.has(code) || awaySocketCodes.has(code)) return true;
  }
  if (awayMessages.some((message) => message.test(error.message))) return true;
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with one error per address.
  if (error instanceof AggregateError) return error.errors.some(isPostgresAway);
  return error.cause !== undefined && error.cause !== error && isPostgresAway(error.cause);
}
