/** @module The process's pino logger: JSON lines on stdout, written once per event-loop turn. */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { errorText } from '../core/error-text.ts';

/** Upper bound of one write(2); a turn that logs more writes more than once. */
const MAX_WRITE_BYTES = 1024 * 1024;

/**
 * Characters of lines kept as one string before they become a Buffer: a Buffer per line cost more
 * than formatting it, so a turn's lines are converted together.
 */
const MAX_PENDING_CHARS = 64 * 1024;

/**
 * pino with its writer (sonic-boom) set up for a receiver that may log 100k lines a second:
 * - buffer mode: appending a Buffer costs O(1) a line, where string mode re-measures the whole
 *   pending string on every append and fell behind under load (docs/performance-journal.md#apply-profile);
 * - the lines of a turn are joined as one string and handed over as one Buffer (or one per
 *   64 Ki characters), not one Buffer per line;
 * - one synchronous write per event-loop turn, of everything that turn logged, so no asynchronous
 *   write is ever in flight when the process exits (an exit flush would splice lines into it).
 * A `kill -9` loses only the lines of the turn it interrupts.
 */
export function createLogger(options: LoggerOptions, fd = 1): Logger {
  const out = pino.destination({
    dest: fd,
    sync: true,
    contentMode: 'buffer',
    // Held until the end of the turn (below), unless a turn logs a whole write's worth.
    minLength: MAX_WRITE_BYTES - 1,
    maxWrite: MAX_WRITE_BYTES,
  });
  // Appending to a string is O(1) in V8 (a rope), flattened once by Buffer.from.
  let pending = '';
  const handOver = () => {
    if (pending === '') return;
    // sonic-boom's types know only its string mode; in buffer mode it takes Buffers.
    out.write(Buffer.from(pending) as never);
    pending = '';
  };
  let scheduled = false;
  const writePending = () => {
    scheduled = false;
    handOver();
    out.flush(); // without a callback: a plain synchronous write, no fsync
  };
  // pino registers an exit flush only for asynchronous destinations. A closed stdout must not turn
  // a clean exit into a crash: what cannot be written then is lost either way.
  process.once('exit', () => {
    try {
      handOver();
      out.flushSync();
    } catch {}
  });
  const lines: DestinationStream & { flush(cb: (error?: Error) => void): void } = {
    write(line: string) {
      pending += line;
      if (pending.length >= MAX_PENDING_CHARS) handOver();
      if (!scheduled) {
        scheduled = true;
        setImmediate(writePending);
      }
    },
    flush: (cb) => {
      handOver();
      out.flush(cb);
    },
  };
  return pino({ ...options, serializers: { err: serializeError, ...options.serializers } }, lines);
}

/**
 * pino's own error serializer, but with each cause's message said once: pino appends every cause's
 * message whole, and a wrapper that quotes its cause (`POST … failed: fetch failed`) then reads
 * `fetch failed: fetch failed`.
 */
export function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error);
  if (error instanceof Error) serialized.message = errorText(error);
  return serialized;
}

/**
 * Logs `message` at most once per `intervalMs`, with how many events it stands for since the last
 * line: a flood of bad connections or a Redis that stays down must not become a flood of lines.
 */
export function throttledWarning(logger: Logger, message: string, intervalMs = 1000) {
  let lastAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return (fields: Record<string, unknown>) => {
    unlogged += 1;
    const now = performance.now();
    if (now - lastAt < intervalMs) return;
    logger.warn({ ...fields, events: unlogged }, message);
    lastAt = now;
    unlogged = 0;
  };
}
