/**
 * @module `npm run soak`: hold a steady load on a receiver for N minutes and print how its memory,
 * event-loop delay and latency moved, so leaks show. Exit 0 when the receiver stayed up, drained
 * and exited cleanly; 1 otherwise; 2 for a bad option.
 */
import { writeFile } from 'node:fs/promises';
import { parseSoakArgs, SoakUsageError, soakUsage } from './options.ts';
import { formatSoakReport, isComplete } from './report.ts';
import { runSoak } from './run-soak.ts';

async function main(): Promise<number> {
  let options: ReturnType<typeof parseSoakArgs>;
  try {
    options = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof SoakUsageError)) throw error;
    console.error(`${error.message}\n\n${soakUsage}`);
    return 2;
  }
  if (options === 'help') {
    console.log(soakUsage);
    return 0;
  }
  console.log(
    `soak: ${options.durationSeconds} s at ${options.rate} req/s, ${options.users} users a body; a sample every ${options.sampleSeconds} s`,
  );
  const report = await runSoak(options, (sample) => {
    const latency = sample.latencyMs ? `p99 ${sample.latencyMs.p99.toFixed(1)} ms` : 'no answers';
    const delay = sample.eventLoopDelayMs ? `eld p99 ${sample.eventLoopDelayMs.p99.toFixed(1)} ms` : '';
    console.log(
      `  t=${sample.atSeconds}s ${sample.requests} req, ${sample.errors} err, ${latency}, ${delay}, rss ${sample.rssMiB?.toFixed(1)} MiB, heap ${sample.heapUsedMiB?.toFixed(1)} MiB`,
    );
  });
  console.log(`\n${formatSoakReport(report)}`);
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`report written to ${options.json}`);
  }
  const ok =
    report.receiver.stayedUp && report.receiver.exitCode === 0 && report.drain.drained && isComplete(report);
  return ok ? 0 : 1;
}

process.exitCode = await main();
