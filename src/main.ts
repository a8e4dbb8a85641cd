/** @module Composition root: the only place that reads process.env, prints to the console or exits. */
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createLogger } from './logger.ts';
import { startReceiver } from './server.ts';

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers.cookie', `req.headers["${config.AUTH_HEADER}"]`],
  });
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  try {
    receiver = await startReceiver(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'could not start');
    console.error(`could not start: ${(error as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    const { drained } = await receiver.shutdown();
    process.exit(drained ? 0 : 1);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
