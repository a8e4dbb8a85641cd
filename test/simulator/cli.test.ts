import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { payloadShapes } from '../../simulator/payload-shapes.ts';
import { createTempDir } from '../support/tmp.ts';
import { type RunningBrokenReceiver, startBrokenReceiver } from './broken-receivers.ts';
import { simulate, small } from './run-cli.ts';

let receiver: RunningBrokenReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('npm run simulate', () => {
  it('exits 1 with a report naming the problem when the endpoint applies in arrival order', async () => {
    receiver = await startBrokenReceiver('arrival-order');
    const dir = await createTempDir('simulate-cli');
    try {
      const json = join(dir.path, 'result.json');
      const args = ['--url', `${receiver.url}/webhook`, ...small, '--churn', '0.4', '--reorder-window', '12'];
      // One request at a time: arrival order is then the seeded schedule, not a race between
      // connections, so this run fails the same way every time.
      args.push('--concurrency', '1');
      const { code, stdout } = await simulate([
        ...args,
        '--header',
        'Authorization: Bearer s3cret-value',
        '--duplicate-rate',
        '0',
        '--seed',
        '5',
        '--json',
        json,
      ]);
      expect(code, stdout).toBe(1);
      expect(stdout).toContain('applies messages in arrival order instead of by (computed_time, message_id)');
      expect(stdout).toMatch(/^FAIL: \d+ differences\.$/m);
      const text = await readFile(json, 'utf8');
      expect(text).not.toContain('s3cret-value');
      const result = JSON.parse(text) as { verdict: string; differences: unknown[] };
      expect(result.verdict).toBe('fail');
      expect(result.differences.length).toBeGreaterThan(0);
    } finally {
      await dir.remove();
    }
  });

  it('exits 2 with the exact problem and the usage on a bad option', async () => {
    const { code, stderr } = await simulate(['--url', 'http://127.0.0.1:1/webhook', '--concurrency', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain('Expected `--concurrency` to be an integer from 1 to 1000, got `0`');
    expect(stderr).toContain('Usage: npm run simulate');
  });

  it('exits 2 when the membership cannot be read back, rather than claim a verdict', async () => {
    const { code, stdout } = await simulate([
      '--url',
      'http://127.0.0.1:1/webhook',
      ...small,
      '--retries',
      '0',
    ]);
    expect(code).toBe(2);
    expect(stdout).toContain('ERROR: could not read the membership back');
  });

  it.each<[string, string]>([
    ...payloadShapes.map((shape): [string, string] => [shape, shape]),
    ['with-properties', 'default'],
    ['user-ids', 'user-ids-only'],
    ['flags', 'per-user-flags'],
  ])('runs with --shape %s (%s), a name of the list the bench shares', async (name, shape) => {
    // Nothing listens on port 1: the run is refused at once and ends unverified (2), after
    // printing the shape it used.
    const tiny = ['--cohorts', '1', '--users', '5', '--steps', '0', '--retries', '0'];
    const { code, stdout } = await simulate([
      '--url',
      'http://127.0.0.1:1/webhook',
      ...tiny,
      '--shape',
      name,
    ]);
    expect(code, stdout).toBe(2);
    expect(stdout).toContain(`shape ${shape}:`);
  });

  it('refuses an unknown --shape, listing the names it takes', async () => {
    const { code, stderr } = await simulate(['--url', 'http://127.0.0.1:1/webhook', '--shape', 'xml']);
    expect(code).toBe(2);
    expect(stderr).toContain(
      'Expected `--shape` to be one of default | user-ids-only | per-user-flags, got `xml`',
    );
  });
});
