import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      WEBHOOK_PATH: '/webhook',
      AUTH_HEADER: 'authorization',
      AUTH_TOKENS: [],
      QUEUE: 'memory',
      STORE: 'sqlite',
      SQLITE_PATH: './data/cohorts.db',
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

  it('throws one ConfigError naming every bad variable', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', QUEUE: 'kafka', MAX_BODY_BYTES: '-1', WEBHOOK_PATH: 'hook' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'QUEUE', 'MAX_BODY_BYTES', 'WEBHOOK_PATH']) expect(message).toContain(name);
    expect(message).not.toContain('LOG_LEVEL');
  });
});
