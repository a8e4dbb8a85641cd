/** The secret comparison itself: precomputed, padded buffers, compared whole, with the lengths. */
import { describe, expect, it } from 'vitest';
import { tokenMatcher } from '../../src/core/http/require-auth.ts';

describe('tokenMatcher', () => {
  const matches = tokenMatcher(['short', 'a-much-longer-secret']);

  it('accepts each accepted token, whatever their lengths', () => {
    expect(matches('short')).toBe(true);
    expect(matches('a-much-longer-secret')).toBe(true);
  });

  it('rejects a wrong token of the same length as an accepted one, wherever it differs', () => {
    expect(matches('shorT')).toBe(false);
    expect(matches('Short')).toBe(false);
    expect(matches('a-much-longer-secreT')).toBe(false);
  });

  it('rejects a value that only starts like a token, or is a token cut short', () => {
    expect(matches('shorter')).toBe(false);
    expect(matches('shor')).toBe(false);
    expect(matches('a-much-longer-secret-and-more')).toBe(false);
    expect(matches('')).toBe(false);
  });

  it('rejects a token followed by NUL bytes, which the zero padding alone would take for it', () => {
    expect(matches('short\u0000')).toBe(false);
    expect(matches('short\u0000\u0000\u0000')).toBe(false);
  });

  it('compares bytes, not UTF-16 units: a multi-byte secret matches only itself', () => {
    const multiByte = tokenMatcher(['sécret-😀']);
    expect(multiByte('sécret-😀')).toBe(true);
    expect(multiByte('secret-😀')).toBe(false);
    expect(multiByte('sécret-😁')).toBe(false);
  });

  it('gives the same answers when asked again (the scratch buffer is reused)', () => {
    for (let round = 0; round < 3; round++) {
      expect(matches('a-much-longer-secret')).toBe(true);
      expect(matches('short')).toBe(true);
      expect(matches('x')).toBe(false);
    }
  });
});
