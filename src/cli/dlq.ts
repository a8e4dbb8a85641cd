/**
 * @module Entry of `npm run dlq`: reads the same environment as the receiver, opens the same
 * backends, runs one command and prints its result (console output belongs to src/cli/ and main).
 */
import { pino } from 'pino';
import { batchParserFor, configOrRefusal, openBackends } from '../compose.ts';
import { lettersWhere } from '../runtime/receiver.ts';
import { createSinks } from '../runtime/sink-settings.ts';
import { asksForHelp, dlqUsage, runDlq } from './dlq-command.ts';

async function main(): Promise<number> {
  // Before the configuration: the usage needs no backend, and a shell without the receiver's
  // variables must still get it.
  if (asksForHelp(process.argv.slice(2))) {
    console.log(dlqUsage);
    return 0;
  }
  const loaded = configOrRefusal(process.env);
  if ('refusal' in loaded) {
    console.error(loaded.refusal);
    return 2;
  }
  const { config } = loaded;
  const logger = pino(
    { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL },
    pino.destination(2),
  );
  // First, on stderr like the logs, so the command's own output stays clean to pipe. An operator
  // whose shell lacks the receiver's QUEUE or KEY_PREFIX otherwise sees "no letters" and believes it.
  console.error(`reading dead letters from ${lettersWhere(config)}`);
  const backends = await openBackends(config, logger);
  try {
    return await runDlq(process.argv.slice(2), {
      backends,
      parseBatch: batchParserFor(config),
      sinkReplay: () => ({ sinks: createSinks(config.SINKS, logger), logger }),
      replayBlocked:
        config.QUEUE === 'memory' && config.STORE === 'memory'
          ? 'QUEUE=memory with STORE=memory: the receiver holds both in its own memory, out of reach'
          : undefined,
      print: (line) => console.log(line),
      writeBytes: (bytes) => process.stdout.write(bytes),
    });
  } finally {
    await backends.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`dlq: ${(error as Error).message}`);
  process.exitCode = 1;
}
