/** @module The process's pino logger: JSON lines on stdout, written asynchronously in large chunks. */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/** Upper bound of one write(2) to the log's file descriptor. */
const MAX_WRITE_BYTES = 1024 * 1024;

/**
 * pino with its own asynchronous writer (sonic-boom), in buffer mode. pino's default (string mode)
 * appends each line to a pending string and measures that string's UTF-8 length on every append,
 * so a line costs O(16 KiB), and it writes one 16 KiB chunk per turn of the event loop. With the
 * log sink (a line per membership change) and the loop busy applying batches, lines were made
 * ~10x faster than written: the backlog grew in memory for the whole run and took seconds of
 * synchronous writing at exit. In buffer mode an append is O(1) and one write takes everything
 * pending (up to 1 MiB): ~2 µs a line against ~5, and the file keeps up (see docs/performance.md).
 */
export function createLogger(options: LoggerOptions, fd = 1): Logger {
  // buildSafeSonicBoom (behind pino.destination) also flushes what is pending when the process exits.
  const out = pino.destination({ dest: fd, sync: false, contentMode: 'buffer', maxWrite: MAX_WRITE_BYTES });
  const lines: DestinationStream & { flush(cb: (error?: Error) => void): void } = {
    // sonic-boom's types know only its string mode; in buffer mode it takes Buffers.
    write: (line: string) => out.write(Buffer.from(line) as never),
    flush: (cb) => out.flush(cb),
  };
  return pino(options, lines);
}
