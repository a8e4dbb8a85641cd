/**
 * @module `npm run simulate -- --url URL [options]`: the only simulator file that prints, reads
 * the command line or exits. Everything it does is in runSimulation (simulate.ts). Every line it
 * prints or writes goes through maskSecrets, so a `?token=` secret never reaches a terminal or file.
 */
import { writeFile } from 'node:fs/promises';
import { parseSimulatorArgs, UsageError, usage } from './options.ts';
import { maskSecrets, tokenSecrets } from './redact.ts';
import { formatReport, redactedResult } from './report.ts';
import { exitCodeFor, runSimulation } from './simulate.ts';

/** The secrets known so far: the `?token=` values of the command line's URLs. */
const secrets = tokenSecrets(process.argv.slice(2));
const out = (text: string) => console.log(maskSecrets(text, secrets));
const err = (text: string) => console.error(maskSecrets(text, secrets));

async function main(): Promise<number> {
  let command: ReturnType<typeof parseSimulatorArgs>;
  try {
    command = parseSimulatorArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // Only the message is masked: the usage holds no secret, and masking would eat its `?token=)`.
    err(error.message);
    console.error(`\n${usage}`);
    return 2;
  }
  if (command.kind === 'help') {
    console.log(usage);
    return 0;
  }
  const result = await runSimulation(command.options, { onProgress: err });
  out(formatReport(result));
  if (command.options.json !== undefined) {
    const json = JSON.stringify(redactedResult(result), null, 2);
    await writeFile(command.options.json, `${maskSecrets(json, secrets)}\n`);
    err(`wrote ${command.options.json}`);
  }
  return exitCodeFor(result);
}

try {
  process.exitCode = await main();
} catch (error) {
  // Not a verdict: nothing was verified. Printed here, masked, rather than by Node unmasked.
  err(`simulate failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 2;
}
