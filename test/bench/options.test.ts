import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs, redactArgv } from '../../bench/options.ts';

function parse(argv: string[]) {
  const options = parseBenchArgs(argv);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

describe('bench options', () => {
  it('defaults to Amplitude-like traffic against the built-in receiver', () => {
    expect(parse([])).toMatchObject({
      url: undefined,
      users: 1000,
      properties: 3,
      shape: 'default',
      connections: 4,
      mode: 'both',
      rate: 20,
      budgetP99Ms: 1000,
      timeoutMs: 2000,
      queue: 'memory',
      store: 'sqlite',
      role: 'all',
      baseline: true,
      e2e: false,
    });
  });

  it('takes a URL with up to five headers, as Amplitude allows', () => {
    const options = parse([
      '--url',
      'https://example.test/hook?token=s3cret',
      '--header',
      'Authorization: Bearer abc',
      '--header',
      'X-Tenant:  acme ',
    ]);
    expect(options.url).toBe('https://example.test/hook?token=s3cret');
    expect(options.headers).toEqual({ authorization: 'Bearer abc', 'x-tenant': 'acme' });
    const six = Array.from({ length: 6 }, (_, i) => ['--header', `X-${i}: v`]).flat();
    expect(() => parse(six)).toThrow('at most 5 headers');
    expect(() => parse(['--header', 'no colon'])).toThrow("expected 'Name: value'");
  });

  it.each([
    ['with-properties', 'default'],
    ['user-ids', 'user-ids-only'],
    ['flags', 'per-user-flags'],
  ])('takes the alias --shape %s for %s', (alias, shape) => {
    expect(parse(['--shape', alias]).shape).toBe(shape);
  });

  it('reads --rate alone as a paced run', () => {
    expect(parse(['--rate', '150'])).toMatchObject({ mode: 'paced', rate: 150 });
    expect(parse(['--rate', '150', '--mode', 'both']).mode).toBe('both');
  });

  it('names every bad option, one per line', () => {
    try {
      parse(['--users', '0', '--properties', '51', '--duplicate-rate', 'x', '--url', 'ftp://x']);
      throw new Error('expected a usage error');
    } catch (error) {
      expect(error).toBeInstanceOf(BenchUsageError);
      const lines = (error as Error).message.split('\n');
      expect(lines).toHaveLength(4);
      expect(lines.map((line) => line.split(':')[0])).toEqual([
        '--url',
        '--users',
        '--properties',
        '--duplicate-rate',
      ]);
    }
    expect(() => parse(['--nonsense'])).toThrow(BenchUsageError);
  });

  it('passes --env pairs through to the built-in receiver', () => {
    expect(parse(['--env', 'QUEUE_MAX_USERS=10', '--env', 'LOG_LEVEL=warn']).env).toEqual({
      QUEUE_MAX_USERS: '10',
      LOG_LEVEL: 'warn',
    });
  });

  it('never records a secret: header values and URL query strings are redacted', () => {
    expect(
      redactArgv([
        '--url',
        'https://h.test/hook?token=s3cret',
        '--header',
        'Authorization: Bearer abc',
        '--users',
        '10',
      ]),
    ).toEqual(['--url', "'https://h.test/hook?…'", '--header', "'Authorization: …'", '--users', '10']);
    expect(redactArgv(['--header=X-Key:abc'])).toEqual(["'--header=X-Key: …'"]);
  });
});
