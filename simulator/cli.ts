/**
 * @module `npm run simulate -- --url URL [options]`: the only simulator file that prints, reads
 * the command line or exits. Everything it does is in runSimulation (simulate.ts).
 */
import { writeFile } from 'node:fs/promises';
import { parseSimulatorArgs, UsageError, usage } from './options.ts';
import { formatReport, redactedResult } from './report.ts';
import { exitCodeFor, runSimulation } from './simulate.ts';

async function main(): Promise<number> {
  let command: ReturnType<typeof parseSimulatorArgs>;
  try {
    command = parseSimulatorArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage}`);
    return 2;
  }
  if (command.kind === 'help') {
    console.log(usage);
    return 0;
  }
  const result = await runSimulation(command.options, { onProgress: (line) => console.error(line) });
  console.log(formatReport(result));
  if (command.options.json !== undefined) {
    await writeFile(command.options.json, `${JSON.stringify(redactedResult(result), null, 2)}\n`);
    console.error(`wrote ${command.options.json}`);
  }
  return exitCodeFor(result);
}

process.exitCode = await main();
