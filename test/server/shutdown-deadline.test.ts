/** Shutdown is bounded as a whole: a sink (or backend) that never finishes closing cannot hold the exit. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { extensions, startReceiver } from '../../src/compose.ts';
import { loadConfigOf } from '../../src/runtime/config.ts';
import { defineSink } from '../../src/runtime/sink-definition.ts';
import { sinkDefinitions } from '../../src/sinks/registry.ts';

/** A sink of a forker's that never finishes closing. */
const hangingSink = defineSink({
  kind: 'hanging',
  settings: z.object({}),
  create: () => ({ name: 'hanging', send: async () => {}, close: () => new Promise(() => {}) }),
});

describe('shutdown', () => {
  it('gives up on a sink that never closes, logs it, and reports the shutdown as unclean', async () => {
    const config = loadConfigOf(
      { extensions, sinks: [...sinkDefinitions, hangingSink] },
      {
        PORT: '0',
        HOST: '127.0.0.1',
        AUTH_TOKENS: 't',
        SQLITE_PATH: ':memory:',
        STORE: 'memory',
        SINKS: 'hanging',
        APPLY_MAX_ATTEMPTS: '1',
        SINK_MAX_ATTEMPTS: '1',
        SHUTDOWN_TIMEOUT_MS: '100',
      },
    );
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const receiver = await startReceiver(config, logger);

    await expect(receiver.shutdown()).resolves.toEqual({ drained: false });
    expect(lines.map((line) => line.msg)).toContain('shutdown: closing sinks and backends timed out');
    expect(lines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: true, closed: false });
  });
});
