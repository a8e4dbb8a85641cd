/**
 * @module Entry of `npm run dlq`: reads the same environment as the receiver, opens the same
 * backends, runs one command and prints its result (console output belongs to src/cli/ and main).
 */
import { pino } from 'pino';
import { batchParserFor, createBackends } from '../compose.ts';
import { configOrRefusal } from '../runtime/config.ts';
import { createSinks } from '../sinks/registry.ts';
import { runDlq } from './dlq-command.ts';
import { letterSource } from './letter-source.ts';

async function main(): Promise<number> {
  const loaded = configOrRefusal(process.env);
  if ('refusal' in loaded) {
    console.error(loaded.refusal);
    return 2;
  }
  const { config } = loaded;
  // Stderr, like the logs, so the command's own output stays clean to pipe.
  console.error(letterSource(config));
  const logger = pino(
    { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL },
    pino.destination(2),
  );
  const backends = await createBackends(config, logger);
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
