/**
 * @module `npm run bench`: the bench's composition root, the one bench file that reads the command
 * line and environment, prints, and sets the exit code (0 PASS, 1 FAIL, 2 bad usage).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { renderLatencyChart } from './chart.ts';
import { pinThisProcess, serverCpu } from './machine.ts';
import { BenchUsageError, parseBenchArgs, redactArgv, usage } from './options.ts';
import { createProgress } from './progress.ts';
import { formatReport } from './report.ts';
import { runBench } from './run-bench.ts';

function writeFile(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

async function main() {
  const argv = process.argv.slice(2);
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

  const progress = createProgress(process.stdout, process.stdout.isTTY === true && !options.quiet);
  const result = await runBench(options, {
    progress,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...redactArgv(argv)] : [])].join(' '),
    environment: process.env,
    serverCpu: cpu,
  });
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
