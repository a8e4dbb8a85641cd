/**
 * @module What the simulator tests share: small, fast simulator options, and our receiver started
 * in-process (startReceiver) on a free port with its SQLite file in a temporary directory.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultReadUrl, type SimulatorOptions } from '../../simulator/options.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import { settingsOf } from '../../src/runtime/config.ts';
import { deleteKeysUnder } from '../support/redis-keys.ts';
import { createTempDir } from '../support/tmp.ts';

let runs = 0;

/**
 * A run of a few dozen messages that still crosses steps within the reorder window: 2 cohorts of 60
 * users, batches of 10, 4 steps. Timeouts and backoff are short so a forced retry costs little.
 */
export function testOptions(webhookUrl: string, overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  runs += 1;
  return {
    url: webhookUrl,
    readUrl: defaultReadUrl(new URL(webhookUrl)),
    headers: {},
    cohorts: 2,
    users: 60,
    steps: 4,
    batchSize: 10,
    properties: 4,
    churn: 0.25,
    concurrency: 4,
    duplicateRate: 0.2,
    reorderWindow: 8,
    timeoutMs: 500,
    retries: 5,
    backoffMs: 20,
    seed: 20240611,
    runId: `t${process.pid}-${runs}`,
    startTime: 1_700_000_000,
    shape: 'default',
    stepGapMs: 0,
    settleMs: 300,
    maxWaitMs: 15_000,
    cleanup: false,
    ...overrides,
  };
}

/** Queue modes this receiver's configuration accepts; Redis only when a server answers. */
export async function availableQueueModes(): Promise<string[]> {
  const modes: string[] = [];
  for (const mode of ['memory', 'sqlite', 'redis']) {
    try {
      loadConfig({ QUEUE: mode });
    } catch {
      continue;
    }
    if (mode !== 'redis' || (await redisAnswers(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')))
      modes.push(mode);
  }
  return modes;
}

function redisAnswers(redisUrl: string): Promise<boolean> {
  const { hostname, port } = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379), timeout: 500 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface ReceiverUnderTest {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  close(): Promise<void>;
}

/** Starts our receiver with `env` on top of a quiet, local, throw-away configuration. */
export async function startOurReceiver(env: Record<string, string> = {}): Promise<ReceiverUnderTest> {
  const dir = await createTempDir('simulator');
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SQLITE_PATH: join(dir.path, 'cohorts.db'),
    KEY_PREFIX: `simulator-${process.pid}-${runs}`,
    SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const receiver = await startReceiver(config, pino({ level: 'silent' }));
  return {
    url: receiver.url,
    async close() {
      await receiver.shutdown();
      await dir.remove();
      // The shared local Redis keeps nothing of a test run.
      if (config.QUEUE === 'redis') {
        await deleteKeysUnder(String(settingsOf(config, 'redis').REDIS_URL), config.KEY_PREFIX);
      }
    },
  };
}
