import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { ConfigError } from '../../src/runtime/config-error.ts';

describe('the hardening settings', () => {
  it('default to limits that stop slow clients well before Node would', () => {
    expect(loadConfig({})).toMatchObject({
      MAX_PROPERTY_DEPTH: 32,
      HEADERS_TIMEOUT_MS: 10_000,
      REQUEST_TIMEOUT_MS: 30_000,
      KEEP_ALIVE_TIMEOUT_MS: 5_000,
      MAX_CONNECTIONS: 1000,
    });
  });

  it('refuses a header timeout longer than the request timeout, naming the variable', () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(ConfigError);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(
      /^invalid configuration: HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS/,
    );
    expect(loadConfig({ HEADERS_TIMEOUT_MS: '40000', REQUEST_TIMEOUT_MS: '40000' }).HEADERS_TIMEOUT_MS).toBe(
      40_000,
    );
  });

  it('refuses a SINK_HTTP_URL carrying credentials, without printing them', () => {
    let message = '';
    try {
      loadConfig({ SINKS: 'http', SINK_HTTP_URL: 'https://user:hunter2@hooks.example.com/x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'invalid configuration: SINK_HTTP_URL: must not carry a user or password: put credentials in SINK_HTTP_HEADERS',
    );
    expect(message).not.toContain('hunter2');
  });

  it('names the refused sink’s own HEADERS variable, whatever the sink is called', () => {
    expect(() =>
      loadConfig({ SINKS: 'http:crm', SINK_HTTP_CRM_URL: 'https://user:hunter2@crm.example.com/x' }),
    ).toThrow(/^invalid configuration: SINK_HTTP_CRM_URL: .* put credentials in SINK_HTTP_CRM_HEADERS$/);
  });

  it('refuses nonsense limits', () => {
    for (const [name, value] of [
      ['MAX_PROPERTY_DEPTH', '0'],
      ['MAX_PROPERTY_DEPTH', '5000'],
      ['MAX_CONNECTIONS', '0'],
      ['KEEP_ALIVE_TIMEOUT_MS', 'soon'],
    ]) {
      expect(() => loadConfig({ [name as string]: value }), `${name}=${value}`).toThrow(name);
    }
  });
});
