/** @module The process: the only place that reads process.env, prints to the console or exits. */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
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
  const receiver = await startWhenDiskHasRoom(() => startReceiver(config, logger), logger);

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
    // A shutdown logs and survives its own failures; one escaping them still exits 1, said so.
    const { drained } = await receiver.shutdown().catch((error: unknown) => {
      logger.fatal({ err: error }, 'shutdown failed');
      return { drained: false };
    });
    process.exit(drained ? 0 : 1);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Starts; a start that fails for want of disk space (SQLite cannot even create its WAL beside a
 * file) is tried again every second, so the receiver comes up on its own once space returns.
 * Any other failure refuses to start.
 */
async function startWhenDiskHasRoom(
  start: () => Promise<RunningReceiver>,
  logger: Logger,
): Promise<RunningReceiver> {
  let waitingSince: number | undefined;
  let saidAt = Number.NEGATIVE_INFINITY;
  for (;;) {
    try {
      const receiver = await start();
      if (waitingSince !== undefined)
        logger.info({ waited_ms: Date.now() - waitingSince }, 'the disk has room again: started');
      return receiver;
    } catch (error) {
      if (error instanceof ConfigError) refuse(error.message);
      if (!isDiskShort(error)) refuse(`could not start: ${firstLine(error)}`);
      waitingSince ??= Date.now();
      // Once, then once a minute: a failing disk (SQLITE_IOERR) looks the same and must stay visible.
      if (Date.now() - saidAt >= 60_000) {
        logger.error({ err: error }, 'could not start: the disk is full; trying again every second');
        saidAt = Date.now();
      }
      await sleep(1000);
    }
  }
}

/** A full disk, or SQLite's I/O error on one, anywhere along the causes. */
function isDiskShort(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ENOSPC|SQLITE_FULL|SQLITE_IOERR)/.test(code)) return true;
  }
  return false;
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];

await main();
