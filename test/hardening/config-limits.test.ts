import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

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
      /must not exceed REQUEST_TIMEOUT_MS[\s\S]*HEADERS_TIMEOUT_MS/,
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
    expect(message).toMatch(/SINK_HTTP_URL/);
    expect(message).toMatch(/SINK_HTTP_HEADERS/);
    expect(message).not.toContain('hunter2');
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
