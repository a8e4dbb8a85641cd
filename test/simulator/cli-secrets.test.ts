/**
 * `npm run simulate` never prints a `?token=` secret: not in progress, report, diagnosis, errors,
 * usage errors or the JSON file. Each run uses a real receiver and the real CLI.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempDir } from '../support/tmp.ts';
import { startBrokenReceiver } from './broken-receivers.ts';
import { startOurReceiver } from './harness.ts';
import { type CliOutcome, simulate, small } from './run-cli.ts';

const secret = 'tok-9f3c51d2e7';

let closeReceiver: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeReceiver?.();
  closeReceiver = undefined;
});

/** Every line printed, on both streams, and of the JSON file when there is one. */
function linesOf(outcome: CliOutcome, json = ''): string[] {
  return [outcome.stdout, outcome.stderr, json].join('\n').split('\n');
}

describe('npm run simulate with the secret in the URL', () => {
  it('masks it in the progress, the report, the diagnosis and the JSON result', async () => {
    const receiver = await startBrokenReceiver('drops-batches');
    closeReceiver = () => receiver.close();
    const dir = await createTempDir('simulate-secret');
    try {
      const json = join(dir.path, 'result.json');
      const outcome = await simulate([
        ...['--url', `${receiver.url}/webhook?token=${secret}`, ...small, '--seed', '3', '--json', json],
      ]);
      const written = await readFile(json, 'utf8');
      expect(outcome.code, outcome.stdout).toBe(1);
      expect(linesOf(outcome, written).filter((line) => line.includes(secret))).toEqual([]);
      // The diagnosis ran (the receiver drops batches), and the URLs were printed, masked.
      expect(outcome.stdout).toContain('answered 2xx but never applied the change (dropped batches)');
      expect(outcome.stderr).toContain(`messages to ${receiver.url}/webhook?token=*** …`);
      expect(outcome.stdout).toContain(`Read-back from ${receiver.url}/?token=***:`);
      expect(JSON.parse(written).options.readUrl).toBe(`${receiver.url}/?token=***`);
    } finally {
      await dir.remove();
    }
  });

  it('masks it in a read-back error', async () => {
    // ROLE=receiver: the webhook takes the secret, and there is no read API to answer.
    const receiver = await startOurReceiver({ ROLE: 'receiver', QUEUE: 'sqlite', AUTH_TOKENS: secret });
    closeReceiver = () => receiver.close();
    const outcome = await simulate(['--url', `${receiver.url}/webhook?token=${secret}`, ...small]);
    expect(linesOf(outcome).filter((line) => line.includes(secret))).toEqual([]);
    expect(outcome.code, outcome.stdout).toBe(2);
    expect(outcome.stdout).toContain(`GET ${receiver.url}/cohorts/`);
    expect(outcome.stdout).toMatch(/\/members\?token=\*\*\*&limit=1000 answered 404/);
  });

  it('masks it in a usage error', async () => {
    const outcome = await simulate(['--url', `ftp://127.0.0.1/webhook?token=${secret}`]);
    expect(linesOf(outcome).filter((line) => line.includes(secret))).toEqual([]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(
      'Expected `--url` to be an http(s) URL, got `ftp://127.0.0.1/webhook?token=***`',
    );
  });
});
