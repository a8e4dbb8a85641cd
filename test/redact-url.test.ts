import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/runtime/redact-url.ts';

describe('redactUrl', () => {
  it('keeps scheme, host, port and path, and drops user, password, query and fragment', () => {
    expect(redactUrl('rediss://user:s3cret@cache.example:6380/2?password=x#y')).toBe(
      'rediss://cache.example:6380/2',
    );
    expect(redactUrl('redis://:s3cret@127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('postgres://app:pw@db:5432/cohorts?sslmode=require')).toBe('postgres://db:5432/cohorts');
  });

  it('names a URL that does not parse without echoing it', () => {
    expect(redactUrl('not a url :pw@', 'REDIS_URL')).toBe('REDIS_URL');
    expect(redactUrl('::')).toBe('the configured URL');
  });
});
