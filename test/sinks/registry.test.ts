import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { ConfigError } from '../../src/runtime/config-error.ts';
import { createSinks } from '../../src/runtime/sink-settings.ts';
import { membershipChange } from './changes.ts';
import { startDownstream } from './downstream.ts';

const logger = pino({ level: 'silent' });
const sinksFor = (env: Record<string, string>) => createSinks(loadConfig(env).SINKS, logger);
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split('\n');
  }
  throw new Error('the configuration was accepted');
};

describe('sink configuration', () => {
  it('defaults to no sinks; SINKS=log builds the log sink and SINKS=none turns sinks off', () => {
    expect(loadConfig({}).SINKS).toEqual([]);
    expect(sinksFor({})).toEqual([]);
    expect(sinksFor({ SINKS: 'log' }).map((sink) => sink.name)).toEqual(['log']);
    expect(sinksFor({ SINKS: 'none' })).toEqual([]);
  });

  it('builds the named sinks in order, once each, each from its own SINK_<NAME>_* settings', () => {
    const sinks = sinksFor({
      SINKS: 'http, log,http,http:crm',
      SINK_HTTP_URL: 'https://hooks.example.com/hooks?key=secret',
      SINK_HTTP_BATCH_SIZE: '25',
      SINK_HTTP_CONCURRENCY: '2',
      SINK_HTTP_CRM_URL: 'https://crm.example.com/v1',
    });
    expect(sinks.map(({ name, batchSize, concurrency }) => ({ name, batchSize, concurrency }))).toEqual([
      { name: 'http', batchSize: 25, concurrency: 2 },
      { name: 'log', batchSize: 500, concurrency: undefined },
      // The defaults of the http sink's schema, not the other http sink's settings.
      { name: 'http-crm', batchSize: 100, concurrency: 4 },
    ]);
  });

  it('gives two http sinks their own URL, headers and rate limit', async () => {
    const [crm, mail] = [await startDownstream(), await startDownstream()];
    const config = loadConfig({
      SINKS: 'http:crm,http:mail',
      SINK_HTTP_CRM_URL: crm.url,
      SINK_HTTP_CRM_HEADERS: '{"Authorization": "Bearer crm-token"}',
      SINK_HTTP_CRM_RATE_PER_SECOND: '2.5',
      SINK_HTTP_MAIL_URL: mail.url,
      SINK_HTTP_MAIL_HEADERS: '{"X-Api-Key": "mail-key"}',
    });
    expect(config.SINKS.map(({ name, settings }) => [name, settings.RATE_PER_SECOND])).toEqual([
      ['http-crm', 2.5],
      ['http-mail', undefined],
    ]);
    const sinks = createSinks(config.SINKS, logger);
    try {
      for (const sink of sinks) await sink.send([membershipChange()]);
      expect(crm.requests.map((request) => request.headers.authorization)).toEqual(['Bearer crm-token']);
      expect(crm.requests[0]?.headers['x-api-key']).toBeUndefined();
      expect(mail.requests.map((request) => request.headers['x-api-key'])).toEqual(['mail-key']);
    } finally {
      for (const sink of sinks) await sink.close?.();
      await crm.close();
      await mail.close();
    }
  });

  it('reads HEADERS as a JSON object, and the other numbers, with the schema defaults', () => {
    const [http] = loadConfig({
      SINKS: 'http',
      SINK_HTTP_URL: 'http://127.0.0.1:1/hook',
      SINK_HTTP_HEADERS: '{"Authorization": "Bearer abc; def", "X-Api-Key": "k"}',
      SINK_HTTP_RATE_PER_SECOND: '0.5',
    }).SINKS;
    expect(http?.settings).toEqual({
      URL: 'http://127.0.0.1:1/hook',
      HEADERS: { Authorization: 'Bearer abc; def', 'X-Api-Key': 'k' },
      RATE_PER_SECOND: 0.5,
      CONCURRENCY: 4,
      BATCH_SIZE: 100,
      TIMEOUT_MS: 10_000,
    });
    expect(loadConfig({}).SINK_MAX_ATTEMPTS).toBe(8);
  });

  it('refuses bad sink settings with one line per bad variable, naming it, as for any variable', () => {
    expect(
      refusal({
        SINKS: 'http,http:crm',
        PORT: 'eighty',
        SINK_HTTP_URL: 'ftp://example.com',
        SINK_HTTP_HEADERS: 'Authorization: Bearer x',
        SINK_HTTP_RATE_PER_SECOND: '0',
        SINK_HTTP_BATCH_SIZE: '0',
        SINK_HTTP_CRM_URL: 'https://crm.example.com',
        SINK_HTTP_CRM_CONCURRENCY: '1000',
      }),
    ).toEqual([
      'invalid configuration: PORT: must be an integer from 0 to 65535',
      'invalid configuration: SINK_HTTP_URL: must be an http:// or https:// URL',
      'invalid configuration: SINK_HTTP_HEADERS: must be a JSON object, e.g. {"Authorization":"Bearer …"}',
      'invalid configuration: SINK_HTTP_RATE_PER_SECOND: must be a positive number of requests per second, e.g. 0.5',
      'invalid configuration: SINK_HTTP_BATCH_SIZE: must be an integer from 1 to 100000',
      'invalid configuration: SINK_HTTP_CRM_CONCURRENCY: must be an integer from 1 to 256',
    ]);
    expect(
      refusal({ SINKS: 'http', SINK_HTTP_URL: 'http://a/', SINK_HTTP_HEADERS: '{"Bad Name": "x"}' }),
    ).toEqual(['invalid configuration: SINK_HTTP_HEADERS: a header name holds no spaces or separators']);
    expect(
      refusal({ SINKS: 'http', SINK_HTTP_URL: 'http://a/', SINK_HTTP_HEADERS: '{"X-A": "line\\nbreak"}' }),
    ).toEqual(['invalid configuration: SINK_HTTP_HEADERS: a header value holds no line break or NUL']);
  });

  it('does not check the settings of a sink SINKS does not name', () => {
    expect(loadConfig({ SINKS: 'log', SINK_HTTP_URL: 'not a url' }).SINKS.map((sink) => sink.name)).toEqual([
      'log',
    ]);
  });

  it('refuses an unknown sink, an http sink without a URL, and the old shared SINK_* names', () => {
    expect(refusal({ SINKS: 'log,kafka,Bad' })).toEqual([
      'invalid configuration: SINKS: unknown sink "kafka"; known: log, http, example-crm-tags, ndjson-file, none; "Bad" is not a sink: lowercase letters, digits and "-", or kind:label (e.g. http:crm)',
    ]);
    expect(refusal({ SINKS: 'http' })).toEqual([
      'invalid configuration: SINK_HTTP_URL: required: where the sink POSTs',
    ]);
    expect(refusal({ SINKS: 'log,none' })).toEqual([
      'invalid configuration: SINKS: "none" cannot be listed with sinks',
    ]);
    expect(refusal({ SINK_CONCURRENCY: '2', SINK_RATE_PER_SECOND: '1' })).toEqual([
      'invalid configuration: SINK_RATE_PER_SECOND: renamed SINK_HTTP_RATE_PER_SECOND: each sink has its own (docs/sinks.md)',
      'invalid configuration: SINK_CONCURRENCY: renamed SINK_HTTP_CONCURRENCY: each sink has its own (docs/sinks.md)',
    ]);
  });

  it('refuses a SINK_* variable no sink reads, naming the setting it most likely meant', () => {
    expect(
      refusal({
        SINKS: 'http,http:crm',
        SINK_HTTP_URL: 'https://hooks.example.com/a',
        SINK_HTTP_RATE_PER_SECCOND: '5',
        SINK_HTTP_CRM_URL: 'https://crm.example.com/b',
        SINK_HTTP_CRM_BATCHSIZE: '10',
        SINK_HTPP_HEADERS: '{}',
        SINK_MAX_ATEMPTS: '3',
      }),
    ).toEqual([
      'invalid configuration: SINK_HTPP_HEADERS: no sink reads it; did you mean SINK_HTTP_HEADERS? (docs/sinks.md#settings)',
      'invalid configuration: SINK_HTTP_CRM_BATCHSIZE: no sink reads it; did you mean SINK_HTTP_CRM_BATCH_SIZE? (docs/sinks.md#settings)',
      'invalid configuration: SINK_HTTP_RATE_PER_SECCOND: no sink reads it; did you mean SINK_HTTP_RATE_PER_SECOND? (docs/sinks.md#settings)',
      'invalid configuration: SINK_MAX_ATEMPTS: no sink reads it; did you mean SINK_MAX_ATTEMPTS? (docs/sinks.md#settings)',
    ]);
  });

  it('takes the settings of sinks SINKS does not list now, labelled ones included', () => {
    const env = {
      SINKS: 'log',
      SINK_MAX_ATTEMPTS: '3',
      SINK_HTTP_URL: 'https://hooks.example.com/a',
      SINK_HTTP_MAIL_RATE_PER_SECOND: '2',
      SINK_NDJSON_FILE_PATH: '/tmp/changes.ndjson',
    };
    expect(loadConfig(env).SINKS.map((sink) => sink.name)).toEqual(['log']);
    expect(loadConfig({ ...env, SINKS: 'none' }).SINKS).toEqual([]);
  });
});
