import { describe, expect, it } from 'vitest';
import { parseSimulatorArgs, UsageError } from '../../simulator/options.ts';
import { payloadShapes } from '../../simulator/payload-shapes.ts';
import { membersUrl } from '../../simulator/read-back.ts';
import { maskSecrets, redactToken, tokenSecrets } from '../../simulator/redact.ts';

const parse = (...argv: string[]) =>
  parseSimulatorArgs(argv, { now: () => 1_700_000_000_000, randomSeed: () => 7 });
const options = (...argv: string[]) => {
  const command = parse(...argv);
  if (command.kind !== 'run') throw new Error('expected a run');
  return command.options;
};

describe('parseSimulatorArgs', () => {
  it('fills in the documented defaults', () => {
    expect(options('--url', 'http://127.0.0.1:8080/webhook')).toMatchObject({
      url: 'http://127.0.0.1:8080/webhook',
      readUrl: 'http://127.0.0.1:8080/',
      headers: {},
      shape: 'default',
      concurrency: 4,
      timeoutMs: 2000,
      retries: 8,
      seed: 7,
      stepGapMs: 0,
      startTime: 1_700_000_000 - 600,
      cleanup: false,
    });
  });

  it('takes --cleanup as a flag', () => {
    expect(options('--url', 'http://x/webhook', '--cleanup').cleanup).toBe(true);
    expect(() => parse('--url', 'http://x/webhook', '--cleanup=yes')).toThrow(UsageError);
  });

  it('reads repeated --header lines and keeps a ?token= for the read API', () => {
    const parsed = options(
      '--url',
      'https://example.com/hooks/amplitude?token=s3cret',
      '--header',
      'Authorization: Bearer abc:def',
      '--header',
      'X-Tenant:  acme ',
    );
    expect(parsed.headers).toEqual({ Authorization: 'Bearer abc:def', 'X-Tenant': 'acme' });
    expect(parsed.readUrl).toBe('https://example.com/?token=s3cret');
  });

  it.each(payloadShapes)('takes --shape %s from the list the bench shares', (shape) => {
    expect(options('--url', 'http://x/webhook', '--shape', shape).shape).toBe(shape);
  });

  it.each([
    ['with-properties', 'default'],
    ['user-ids', 'user-ids-only'],
    ['flags', 'per-user-flags'],
  ])('takes the alias --shape %s for %s', (alias, shape) => {
    expect(options('--url', 'http://x/webhook', '--shape', alias).shape).toBe(shape);
  });

  it('paces per-user-flags steps a second apart by default', () => {
    expect(options('--url', 'http://x/webhook', '--shape', 'per-user-flags').stepGapMs).toBe(1100);
  });

  it.each([
    [
      ['--url', 'http://x', '--concurrency', '0'],
      'Expected `--concurrency` to be an integer from 1 to 1000, got `0`',
    ],
    [
      ['--url', 'http://x', '--duplicate-rate', '2'],
      'Expected `--duplicate-rate` to be a number from 0 to 1, got `2`',
    ],
    [
      ['--url', 'http://x', '--shape', 'xml'],
      'Expected `--shape` to be one of default | user-ids-only | per-user-flags, got `xml`',
    ],
    [['--url', 'ftp://x'], 'Expected `--url` to be an http(s) URL, got `ftp://x`'],
    [['--url', 'http://x', '--header', 'no colon'], "Expected `--header` as 'Name: value', got `no colon`"],
    [
      ['--url', 'http://x', '--run-id', 'a_b'],
      'Expected `--run-id` to be 1-64 letters, digits or "-", got `a_b`',
    ],
    [[], 'Expected `--url`, the webhook URL to send to'],
  ])('refuses %j with an exact message', (argv, message) => {
    expect(() => parse(...argv)).toThrow(new UsageError(message));
  });

  it('refuses unknown options', () => {
    expect(() => parse('--url', 'http://x', '--nope')).toThrow(UsageError);
  });
});

describe('the read API address', () => {
  it('puts /cohorts/:id/members under the read URL path and keeps its query', () => {
    expect(membersUrl('https://h/api/?token=t', 'a/b c', 'cur')).toBe(
      'https://h/api/cohorts/a%2Fb%20c/members?token=t&limit=1000&cursor=cur',
    );
  });

  it('never prints the token', () => {
    expect(redactToken('https://h/webhook?token=s3cret')).toBe('https://h/webhook?token=***');
    expect(redactToken('GET https://h/x?a=1&token=s3cret&limit=2 failed')).toBe(
      'GET https://h/x?a=1&token=***&limit=2 failed',
    );
    expect(redactToken(`from ${redactToken('http://h/?token=s3cret')}: 3 reads`)).toBe(
      'from http://h/?token=***: 3 reads',
    );
  });

  it('masks a known token wherever it appears, raw or decoded', () => {
    const secrets = tokenSecrets(['--url', 'http://h/webhook?token=a%2Bsecret']);
    expect(maskSecrets('echoed a+secret and a%2Bsecret', secrets)).toBe('echoed *** and ***');
  });
});
