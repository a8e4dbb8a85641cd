/** @module The process's pino logger: JSON lines on stdout, written once per event-loop turn. */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/** Upper bound of one write(2); a turn that logs more writes more than once. */
const MAX_WRITE_BYTES = 1024 * 1024;

/**
 * pino with its writer (sonic-boom) set up for a receiver that may log 100k lines a second (the log
 * sink writes a line per membership change):
 * - buffer mode: pino's default (string mode) appends each line to a pending string and measures
 *   that string's UTF-8 length on every append, O(16 KiB) a line, and writes one 16 KiB chunk per
 *   turn of the event loop; with the loop busy applying, lines were made ~10x faster than written
 *   and piled up in memory. Appending a Buffer is O(1): ~2 µs a line instead of ~5.
 * - one synchronous write per event-loop turn, of everything that turn logged: a few hundred lines
 *   a write under load, one line when quiet, and never an asynchronous write in flight. With one
 *   in flight, a process exiting (a second SIGTERM, process.exit) had its exit flush write later
 *   lines into the middle of the unfinished one, and stdout held broken JSON.
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
  let scheduled = false;
  const writePending = () => {
    scheduled = false;
    out.flush(); // without a callback: a plain synchronous write, no fsync
  };
  // pino registers an exit flush only for asynchronous destinations. A closed stdout must not turn
  // a clean exit into a crash: what cannot be written then is lost either way.
  process.once('exit', () => {
    try {
      out.flushSync();
    } catch {}
  });
  const lines: DestinationStream & { flush(cb: (error?: Error) => void): void } = {
    write(line: string) {
      // sonic-boom's types know only its string mode; in buffer mode it takes Buffers.
      out.write(Buffer.from(line) as never);
      if (!scheduled) {
        scheduled = true;
        setImmediate(writePending);
      }
    },
    flush: (cb) => out.flush(cb),
  };
  return pino(options, lines);
}
