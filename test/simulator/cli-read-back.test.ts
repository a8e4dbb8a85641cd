/**
 * `npm run simulate` against a process whose read API does not answer 200: nothing can be
 * verified (exit 2, with a hint), and nothing is reported as dropped or different.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ReceiverUnderTest, startOurReceiver } from './harness.ts';
import { simulate, small } from './run-cli.ts';

let receiver: ReceiverUnderTest | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('npm run simulate when the membership cannot be read back', () => {
  it('exits 2 with a hint when the read URL is a ROLE=receiver process (404, no read API)', async () => {
    receiver = await startOurReceiver({ ROLE: 'receiver', QUEUE: 'sqlite' });
    const { code, stdout } = await simulate(['--url', `${receiver.url}/webhook`, ...small]);
    expect(code, stdout).toBe(2);
    expect(stdout).toContain('answered 404');
    expect(stdout).toContain(
      '  hint: point --read-url at a process that serves the read API (ROLE=all or ROLE=worker)',
    );
    expect(stdout).toContain('ERROR: could not read the membership back, so nothing was verified.');
    // Every message was acknowledged: no difference, no drop is claimed.
    expect(stdout).not.toMatch(/^Differences|dropped batches|^FAIL/m);
  });

  it('exits 2 with a hint when the read API refuses the read token (401)', async () => {
    receiver = await startOurReceiver({ AUTH_TOKENS: 'right-token-1' });
    const { code, stdout } = await simulate([
      ...['--url', `${receiver.url}/webhook?token=right-token-1`],
      ...['--read-url', `${receiver.url}/?token=wrong-token-2`, ...small],
    ]);
    expect(code, stdout).toBe(2);
    expect(stdout).toContain('answered 401');
    expect(stdout).toContain('  hint: the read API refused the credentials');
    expect(stdout).not.toMatch(/^Differences|dropped batches|^FAIL/m);
  });
});
