/**
 * @module Entry of `npm run dlq`: reads the same environment as the receiver (loadConfig), opens the
 * same parts, runs one command and prints its result (console output belongs to src/cli/ and main).
 */
import { pino } from 'pino';
import { loadConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { createParts } from '../parts.ts';
import { createBatchParser } from '../payload/parse-batch.ts';
import { createSinks } from '../sinks/registry.ts';
import { runDlq } from './dlq-command.ts';
import { letterSource } from './letter-source.ts';

async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  // Stderr, like the logs, so the command's own output stays clean to pipe.
  console.error(letterSource(config));
  const logger = pino(
    { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL },
    pino.destination(2),
  );
  const parts = await createParts(config, logger);
  try {
    return await runDlq(process.argv.slice(2), {
      parts,
      parseBatch: createBatchParser({
        maxUsers: config.MAX_USERS_PER_BATCH,
        maxUserIdLength: config.MAX_USER_ID_LENGTH,
        maxProperties: config.MAX_PROPERTIES_PER_USER,
        maxPropertyDepth: config.MAX_PROPERTY_DEPTH,
      }),
      sinkReplay: () => ({ sinks: createSinks({ config, logger }), logger }),
      replayBlocked:
        config.QUEUE === 'memory' && config.STORE === 'memory'
          ? 'QUEUE=memory with STORE=memory: the receiver holds both in its own memory, out of reach'
          : undefined,
      print: (line) => console.log(line),
      writeBytes: (bytes) => process.stdout.write(bytes),
    });
  } finally {
    await parts.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`dlq: ${(error as Error).message}`);
  process.exitCode = 1;
}
