/**
 * @module Entry of `npm run sinks`: status, pause and resume of the sinks, release and discard of
 * held cohorts, through a running receiver's `/sinks` API (console output belongs to src/cli/ and main).
 */
import { runSinks } from './sinks-command.ts';

try {
  process.exitCode = await runSinks(process.argv.slice(2), {
    env: process.env,
    print: (line) => console.log(line),
    warn: (line) => console.error(line),
  });
} catch (error) {
  console.error(`sinks: ${(error as Error).message}`);
  process.exitCode = 1;
}
