/**
 * @module `npm run bench`: the bench's composition root, the one bench file that reads the command
 * line and environment, prints, and sets the exit code (0 PASS, 1 FAIL, 2 bad usage, 128 + the
 * signal's number after Ctrl-C or SIGTERM, once the run's servers and storage are gone).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { renderLatencyChart } from './chart.ts';
import { runFirstSyncCli } from './first-sync/cli.ts';
import { pinThisProcess, serverCpu } from './machine.ts';
import { BenchUsageError, parseBenchArgs, redactArgv, usage } from './options.ts';
import { createProgress } from './progress.ts';
import { formatReport } from './report.ts';
import { BenchInterrupted, runBench } from './run-bench.ts';
import { runScaleCli } from './scale/cli.ts';

function writeFile(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

async function main() {
  const argv = process.argv.slice(2);
  const names = (option: string) => (arg: string) => arg === option || arg.startsWith(`${option}=`);
  if (argv.some(names('--scale'))) {
    process.exitCode = await runScaleCli(argv);
    return;
  }
  if (argv.some(names('--first-sync'))) {
    process.exitCode = await runFirstSyncCli(argv);
    return;
  }
  let options: ReturnType<typeof parseBenchArgs>;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(usage);
    return;
  }
  // Servers get CPU 0; this process, which generates the load, every other CPU.
  const cpu = serverCpu(options.pin);
  if (cpu !== null) pinThisProcess(`1-${availableParallelism() - 1}`);

  // --quiet: stdout carries the JSON result alone, so the progress lines go to stderr.
  const progressStream = options.quiet ? process.stderr : process.stdout;
  const progress = createProgress(progressStream, progressStream.isTTY === true && !options.quiet);
  // Without this a Ctrl-C would exit at once, leaving the receiver running and its storage behind.
  const interrupt = new AbortController();
  let exitCode = 0;
  const onSignal = (signal: NodeJS.Signals, code: number) =>
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the servers and removing the run's storage…`);
      exitCode = code;
      interrupt.abort();
    });
  onSignal('SIGINT', 130);
  onSignal('SIGTERM', 143);
  let result: Awaited<ReturnType<typeof runBench>>;
  try {
    result = await runBench(options, {
      progress,
      command: ['npm run bench', ...(argv.length > 0 ? ['--', ...redactArgv(argv)] : [])].join(' '),
      environment: process.env,
      serverCpu: cpu,
      signal: interrupt.signal,
    });
  } catch (error) {
    if (!(error instanceof BenchInterrupted)) throw error;
    console.error(error.message);
    // The load generator of the abandoned round still holds timers and sockets.
    process.exit(exitCode);
  }
  if (options.json) writeFile(options.json, `${JSON.stringify(result, null, 2)}\n`);
  if (options.chart) writeFile(options.chart, renderLatencyChart(result));
  if (options.quiet) {
    console.log(JSON.stringify(result));
  } else {
    console.log(formatReport(result));
    if (options.json) console.log(`result: ${options.json}`);
    if (options.chart) console.log(`chart:  ${options.chart}`);
  }
  process.exitCode = result.verdict.pass ? 0 : 1;
}

await main();
