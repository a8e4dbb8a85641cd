/** @module The process: the only place that reads process.env, prints to the console or exits. */
import { configOrRefusal, type RunningReceiver, startReceiver } from './compose.ts';
import { ConfigError } from './runtime/config-error.ts';
import { createLogger } from './runtime/logger.ts';

/** A start-up refusal is one plain line per problem on stderr, for a person at a terminal. */
function refuse(message: string): never {
  console.error(message);
  process.exit(1);
}

/** How long a crash waits for the best-effort shutdown before exiting anyway. */
const crashShutdownMs = 10_000;

async function main() {
  const loaded = configOrRefusal(process.env);
  if ('refusal' in loaded) refuse(loaded.refusal);
  const { config } = loaded;
  const logger = createLogger({
    level: config.LOG_LEVEL,
    redact: ['req.headers.authorization', 'req.headers.cookie', `req.headers["${config.AUTH_HEADER}"]`],
  });
  let receiver: RunningReceiver;
  try {
    receiver = await startReceiver(config, logger);
  } catch (error) {
    if (error instanceof ConfigError) refuse(error.message);
    refuse(`could not start: ${firstLine(error)}`);
  }

  // A bug that escapes every handler: say so, stop taking webhooks and drain what was accepted
  // (bounded), then exit 1 so the process manager restarts a process in a known state.
  let crashed = false;
  const crash = (error: unknown, origin: string) => {
    logger.fatal({ err: error, origin }, 'unexpected error: shutting down');
    if (crashed) return;
    crashed = true;
    setTimeout(() => process.exit(1), crashShutdownMs).unref();
    receiver.shutdown().finally(() => process.exit(1));
  };
  process.on('uncaughtException', (error) => crash(error, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandledRejection'));

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
