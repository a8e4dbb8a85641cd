/** @module Composition root: the only place that reads process.env, prints to the console or exits. */
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { createLogger } from './logger.ts';
import { startReceiver } from './server.ts';

/** A start-up refusal is one plain line per problem on stderr, for a person at a terminal. */
function refuse(message: string): never {
  console.error(message);
  process.exit(1);
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    refuse(error.message);
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers.cookie', `req.headers["${config.AUTH_HEADER}"]`],
  });
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  try {
    receiver = await startReceiver(config, logger);
  } catch (error) {
    if (error instanceof ConfigError) refuse(error.message);
    refuse(`could not start: ${firstLine(error)}`);
  }

  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const stop = async (signal: NodeJS.Signals) => {
    if (first) {
      // Ctrl-C reaches npm and this process alike, and npm passes it on too: the same signal within
      // a second is that one request again, not a second one.
      if (signal === first.signal && Date.now() - first.at < 1000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    logger.info({ signal }, 'signal received');
    const { drained } = await receiver.shutdown();
    process.exit(drained ? 0 : 1);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];

await main();
