import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/compose.ts';
import { settingsOf } from '../src/runtime/config.ts';
import { ConfigError } from '../src/runtime/config-error.ts';
import { offeredChoices } from './support/offered.ts';

/** loadConfig's refusal message, or 'accepted'. */
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(settingsOf(config, 'sqlite')).toEqual({
      SQLITE_PATH: './data/cohorts.db',
      QUEUE_MAX_BYTES: 16 * 1024 ** 3,
      QUEUE_MIN_FREE_BYTES: 1024 ** 3,
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      WEBHOOK_PATH: '/webhook',
      AUTH_HEADER: 'authorization',
      AUTH_TOKENS: [],
      QUEUE: 'sqlite',
      STORE: 'sqlite',
      DEDUPE_TTL_SECONDS: 604800,
      QUEUE_MAX_USERS: 5_000_000,
      MAX_BODY_BYTES: 33_554_432,
      LOG_LEVEL: 'info',
    });
  });

  it('splits AUTH_TOKENS on commas and lower-cases AUTH_HEADER', () => {
    const config = loadConfig({ AUTH_TOKENS: ' old, new ,', AUTH_HEADER: 'X-Webhook-Secret' });
    expect(config.AUTH_TOKENS).toEqual(['old', 'new']);
    expect(config.AUTH_HEADER).toBe('x-webhook-secret');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
  });

  it('throws one ConfigError with exactly one plain line per bad variable, naming it', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', QUEUE: 'kafka', MAX_BODY_BYTES: '-1', WEBHOOK_PATH: 'hook' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message.split('\n')).toEqual([
      'invalid configuration: PORT: must be an integer from 0 to 65535',
      'invalid configuration: WEBHOOK_PATH: must start with "/"',
      `invalid configuration: QUEUE: Invalid option: expected one of ${offeredChoices('QUEUE')}`,
      'invalid configuration: MAX_BODY_BYTES: must be an integer, at least 1',
    ]);
  });
});

describe('HOST and auth', () => {
  const strongToken = '3f9c1e7a5b2d8f40a6c3e1b7d9f2a5c8';
  it('listens on loopback only when auth is off, on every interface when tokens are set', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ AUTH_TOKENS: 'none' })).toMatchObject({ HOST: '127.0.0.1', AUTH_TOKENS: [] });
    expect(loadConfig({ AUTH_TOKENS: strongToken }).HOST).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '127.0.0.2' }).HOST).toBe('127.0.0.2');
    expect(loadConfig({ HOST: '::1' }).HOST).toBe('::1');
    expect(loadConfig({ HOST: 'localhost' }).HOST).toBe('localhost');
  });

  it('keeps to loopback when a token is the demo secret or shorter than 16 characters, unless HOST is set', () => {
    expect(loadConfig({ AUTH_TOKENS: 'local-demo-secret' }).HOST).toBe('127.0.0.1');
    expect(loadConfig({ AUTH_TOKENS: 'fifteen-chars-x' }).HOST).toBe('127.0.0.1');
    expect(loadConfig({ AUTH_TOKENS: 'sixteen-chars-xy' }).HOST).toBe('0.0.0.0');
    // One weak token of a rotation is enough.
    expect(loadConfig({ AUTH_TOKENS: `${strongToken},s3cret` }).HOST).toBe('127.0.0.1');
    expect(loadConfig({ AUTH_TOKENS: 'local-demo-secret', HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('refuses a HOST reachable from the network without tokens, unless AUTH_TOKENS=none asks for it', () => {
    const line =
      'invalid configuration: AUTH_TOKENS: required when HOST=0.0.0.0 is reachable from the network; set AUTH_TOKENS=none to run without auth anyway';
    expect(refusal({ HOST: '0.0.0.0' })).toBe(line);
    expect(refusal({ HOST: '10.0.0.5' })).toContain('HOST=10.0.0.5');
    expect(refusal({ HOST: '::' })).toContain('HOST=::');
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_TOKENS: 'none' })).toMatchObject({
      HOST: '0.0.0.0',
      AUTH_TOKENS: [],
    });
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_TOKENS: 's3cret' }).HOST).toBe('0.0.0.0');
    expect(refusal({ AUTH_TOKENS: 'none,s3cret' })).toBe(
      'invalid configuration: AUTH_TOKENS: "none" (auth off) cannot be listed with tokens',
    );
  });
});
