/** Shutdown is bounded as a whole: a sink (or backend) that never finishes closing cannot hold the exit. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { batchParserFor, createBackends } from '../../src/compose.ts';
import type { Sink } from '../../src/core/sinks/sink.ts';
import { loadConfig } from '../../src/runtime/config.ts';
import { startServer } from '../../src/runtime/server.ts';

describe('shutdown', () => {
  it('gives up on a sink that never closes, logs it, and reports the shutdown as unclean', async () => {
    const config = loadConfig({ PORT: '0', SQLITE_PATH: ':memory:', STORE: 'memory', SINKS: 'none' });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const hanging: Sink = {
      name: 'hanging',
      deliver: async () => {},
      close: () => new Promise(() => {}),
    };
    const receiver = await startServer(
      {
        ...(await createBackends(config, logger)),
        sinks: [hanging],
        logger,
        parseBatch: batchParserFor(config),
      },
      {
        port: 0,
        host: '127.0.0.1',
        role: 'all',
        mode: { queue: 'memory', store: 'memory' },
        webhookPath: '/webhook',
        maxBodyBytes: 1024,
        auth: { tokens: ['t'], header: 'authorization' },
        limits: {
          headersTimeoutMs: 1000,
          requestTimeoutMs: 1000,
          keepAliveTimeoutMs: 1000,
          maxConnections: 10,
        },
        queueMaxUsers: 100,
        applyMaxAttempts: 1,
        sinkMaxAttempts: 1,
        shutdownTimeoutMs: 100,
      },
    );

    await expect(receiver.shutdown()).resolves.toEqual({ drained: false });
    expect(lines.map((line) => line.msg)).toContain('shutdown: closing sinks and backends timed out');
    expect(lines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: true, closed: false });
  });
});
