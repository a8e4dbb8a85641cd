/**
 * @module Entry of `npm run backfill`: starts a sink's backfill on a running receiver and draws its
 * progress on stderr until it ends (console output belongs to src/cli/ and main).
 */
import { runBackfill } from './sinks-command.ts';

// The receiver runs the backfill: stopping the command stops only the watching.
process.once('SIGINT', () => {
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.error('stopped watching; the backfill goes on in the receiver: `npm run sinks -- status` shows it');
  process.exit(130);
});

try {
  process.exitCode = await runBackfill(process.argv.slice(2), {
    env: process.env,
    print: (line) => console.log(line),
    warn: (line) => console.error(line),
    progress: { isTTY: process.stderr.isTTY === true, write: (text) => process.stderr.write(text) },
  });
} catch (error) {
  console.error(`backfill: ${(error as Error).message}`);
  process.exitCode = 1;
}
