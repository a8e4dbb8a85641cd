/**
 * `npm run simulate` whose writes are refused for their credentials (the README's
 * `--header "Authorization: Bearer $SECRET"` with SECRET unset): it stops after the first few
 * writes, says that each got 401, shows the header it sent with the secret masked, and exits 2.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ReceiverUnderTest, startOurReceiver } from './harness.ts';
import { simulate, small } from './run-cli.ts';

let receiver: ReceiverUnderTest | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('npm run simulate when the endpoint refuses the secret', () => {
  it('stops after the first writes, names the empty secret it sent, and exits 2', async () => {
    receiver = await startOurReceiver({ AUTH_TOKENS: 'right-token-1' });
    const { code, stdout } = await simulate([
      ...['--url', `${receiver.url}/webhook`, ...small],
      // What `--header "Authorization: Bearer $SECRET"` becomes when SECRET is not set.
      ...['--header', 'Authorization: Bearer '],
    ]);
    expect(code, stdout).toBe(2);
    // The first 4 writes, and those already in flight when they were answered: not the whole plan.
    const [, refused = '', planned = ''] =
      /status codes: 401 ×(\d+)\n[\s\S]*the other (\d+) messages/.exec(stdout) ?? [];
    expect(Number(refused)).toBeGreaterThanOrEqual(4);
    expect(Number(refused)).toBeLessThan(8);
    expect(Number(planned)).toBeGreaterThan(10);
    expect(stdout).toMatch(
      /^Stopped: the endpoint answered 401 to each of the first 4 writes: it refused the credentials, so the other \d+ messages were not sent$/m,
    );
    expect(stdout).toContain(
      '  hint: sent Authorization: Bearer <empty>. The secret may be empty or wrong: a --header "Authorization: Bearer $SECRET" whose SECRET is not set in this shell sends an empty one',
    );
    expect(stdout).toMatch(/^ERROR: the endpoint refused the credentials, so nothing was verified\.$/m);
    expect(stdout).not.toMatch(/read-url|Read-back|Never acknowledged/);
  });

  it('masks a wrong secret, saying only its length', async () => {
    receiver = await startOurReceiver({ AUTH_TOKENS: 'right-token-1' });
    const { code, stdout } = await simulate([
      ...['--url', `${receiver.url}/webhook?token=wrong-token-2`, ...small],
      ...['--header', 'X-Trace: abc'],
    ]);
    expect(code, stdout).toBe(2);
    expect(stdout).toContain(
      '  hint: sent X-Trace: <3 characters>, token (query parameter): <13 characters>.',
    );
    expect(stdout).not.toContain('wrong-token-2');
  });
});
