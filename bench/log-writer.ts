/**
 * @module `npx tsx bench/log-writer.ts`: how many `membership change` lines a second each way of
 * writing pino's output takes, as the `log` sink writes them (500 a batch, a turn of the event loop
 * after each) into /dev/null. Compares the receiver's writer (src/runtime/logger.ts) with pino's own
 * destinations, in alternating rounds.
 */
import { openSync } from 'node:fs';
import { type Logger, pino } from 'pino';
import { createLogger } from '../src/runtime/logger.ts';

const lines = 500_000;
const rounds = 3;
const writers: Record<string, (fd: number) => Logger> = {
  'receiver (one write per turn)': (fd) => createLogger({ level: 'info' }, fd),
  'pino.destination({ sync: false })': (fd) =>
    pino({ level: 'info' }, pino.destination({ dest: fd, sync: false })),
  'pino.destination({ sync: false, minLength: 4096 })': (fd) =>
    pino({ level: 'info' }, pino.destination({ dest: fd, sync: false, minLength: 4096 })),
  'pino.destination({ sync: true })': (fd) =>
    pino({ level: 'info' }, pino.destination({ dest: fd, sync: true })),
};

async function linesPerSecond(make: (fd: number) => Logger): Promise<number> {
  const logger = make(openSync('/dev/null', 'w'));
  const log = logger.child({ sink: 'log' });
  const started = performance.now();
  for (let i = 0; i < lines; i += 500) {
    for (let j = 0; j < 500; j++) {
      const user_id = `0b6f3f0e-5c1a-4d7e-9a61-${String(i + j).padStart(12, '0')}`;
      log.info(
        { cohort_id: 'q3k9xw1', user_id, kind: 'entered', computed_time: 1_692_206_763, message_id: 'm-1' },
        'membership change',
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => logger.flush(() => resolve(undefined)));
  return lines / ((performance.now() - started) / 1000);
}

const results = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const [name, make] of Object.entries(writers)) {
    results.set(name, [...(results.get(name) ?? []), await linesPerSecond(make)]);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
for (const [name, values] of results) {
  console.log(
    `${name}: ${Math.round(median(values) / 1000)}k lines/s (${values.map((v) => Math.round(v / 1000)).join(' / ')}k)`,
  );
}
