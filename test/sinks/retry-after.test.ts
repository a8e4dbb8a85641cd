import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/sinks/retry-after.ts';

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads an HTTP date as the wait until then, and a past date as no wait', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:59:00 GMT', now)).toBe(0);
  });

  it('ignores an absent or malformed header', () => {
    for (const value of [undefined, null, '', '-1', '1.5', 'soon', 'Mon, 99 Foo 2024']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});
