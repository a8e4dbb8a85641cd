import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createSinks } from '../../src/sinks/registry.ts';

const logger = pino({ level: 'silent' });
const sinksFor = (env: Record<string, string>) => createSinks({ config: loadConfig(env), logger });

describe('sink configuration', () => {
  it('defaults to the log sink, and SINKS=none turns sinks off', () => {
    expect(loadConfig({}).SINKS).toEqual(['log']);
    expect(sinksFor({}).map((sink) => sink.name)).toEqual(['log']);
    expect(sinksFor({ SINKS: 'none' })).toEqual([]);
  });

  it('builds the named sinks in order, once each, from SINK_* settings', () => {
    const sinks = sinksFor({
      SINKS: 'http, log,http',
      SINK_HTTP_URL: 'https://crm.example.com/hooks?key=secret',
      SINK_BATCH_SIZE: '25',
      SINK_CONCURRENCY: '2',
    });
    expect(sinks.map(({ name, batchSize, concurrency }) => ({ name, batchSize, concurrency }))).toEqual([
      { name: 'http', batchSize: 25, concurrency: 2 },
      { name: 'log', batchSize: 500, concurrency: undefined },
    ]);
  });

  it('reads SINK_HTTP_HEADERS as a JSON object, and the other SINK_* numbers', () => {
    const config = loadConfig({
      SINK_HTTP_HEADERS: '{"Authorization": "Bearer abc; def", "X-Api-Key": "k"}',
      SINK_RATE_PER_SECOND: '2.5',
    });
    expect(config).toMatchObject({
      SINK_HTTP_HEADERS: { Authorization: 'Bearer abc; def', 'X-Api-Key': 'k' },
      SINK_RATE_PER_SECOND: 2.5,
      SINK_CONCURRENCY: 4,
      SINK_BATCH_SIZE: 100,
      SINK_MAX_ATTEMPTS: 8,
      SINK_TIMEOUT_MS: 10_000,
    });
    expect(loadConfig({}).SINK_HTTP_HEADERS).toEqual({});
  });

  it('names each bad SINK_* variable', () => {
    const bad = {
      SINK_HTTP_URL: 'ftp://example.com',
      SINK_HTTP_HEADERS: 'Authorization: Bearer x',
      SINK_RATE_PER_SECOND: '0',
      SINK_BATCH_SIZE: '0',
    };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    let message = '';
    try {
      loadConfig(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of Object.keys(bad)) expect(message).toContain(name);
    expect(() => loadConfig({ SINK_HTTP_HEADERS: '{"Bad Name": "x"}' })).toThrow('SINK_HTTP_HEADERS');
    expect(() => loadConfig({ SINK_HTTP_HEADERS: '{"X-A": "line\\nbreak"}' })).toThrow('SINK_HTTP_HEADERS');
  });

  it('stops start-up on an unknown sink or an http sink without a URL', () => {
    expect(() => sinksFor({ SINKS: 'log,kafka' })).toThrow(ConfigError);
    expect(() => sinksFor({ SINKS: 'log,kafka' })).toThrow('SINKS: unknown sink "kafka"; known: log, http');
    expect(() => sinksFor({ SINKS: 'http' })).toThrow('SINK_HTTP_URL is required when SINKS names "http"');
  });
});
