import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCodePoints, compareVersions, resolveWrite } from '../../src/core/store/register.ts';

const sign = (n: number) => Math.sign(n);

describe('compareCodePoints', () => {
  it('orders strings as SQLite BINARY does: by their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(sign(compareCodePoints(a, b))).toBe(sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 2000 },
    );
  });

  it('puts a character above U+FFFF after one in U+E000..U+FFFF, unlike JS <', () => {
    expect(compareCodePoints('\u{1F600}', '\uFF5E')).toBeGreaterThan(0);
    expect('\u{1F600}' < '\uFF5E').toBe(true);
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
    expect(compareCodePoints('same', 'same')).toBe(0);
  });
});

describe('compareVersions and resolveWrite', () => {
  const register = (
    computedTime: number,
    messageId: string,
    inCohort = true,
    propertiesJson: string | null = null,
  ) => ({
    computedTime,
    messageId,
    inCohort,
    propertiesJson,
  });

  it('orders by computedTime first, then by messageId', () => {
    expect(compareVersions(register(2, 'a'), register(1, 'z'))).toBeGreaterThan(0);
    expect(compareVersions(register(1, 'b'), register(1, 'a'))).toBeGreaterThan(0);
    expect(compareVersions(register(1, 'a'), register(1, 'a'))).toBe(0);
  });

  it('names every outcome of a write', () => {
    expect(resolveWrite(undefined, register(1, 'a'))).toBe('entered');
    expect(resolveWrite(undefined, register(1, 'a', false))).toBe('unchanged');
    expect(resolveWrite(register(1, 'a'), register(1, 'a', false))).toBe('stale');
    expect(resolveWrite(register(2, 'a', false), register(1, 'a'))).toBe('stale');
    expect(resolveWrite(register(1, 'a', false), register(2, 'a'))).toBe('entered');
    expect(resolveWrite(register(1, 'a'), register(2, 'a', false))).toBe('left');
    expect(resolveWrite(register(1, 'a', true, '{"a":1}'), register(2, 'a', true, '{"a":1}'))).toBe(
      'unchanged',
    );
    expect(resolveWrite(register(1, 'a', true, '{"a":1}'), register(2, 'a', true, null))).toBe('updated');
  });
});
