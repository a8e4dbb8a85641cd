import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReceiverToExit, startReceiverProcess } from '../../bench/receiver-process.ts';
import { offeredChoices } from '../support/offered.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cohort-lifecycle-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const batchBody = (index: number, users: number) =>
  JSON.stringify({
    cohort_name: 'Big',
    cohort_id: 'big',
    in_cohort: true,
    computed_time: String(1_700_000_000 + index),
    message_id: `lifecycle-${index}`,
    users: Array.from({ length: users }, (_, i) => ({ user_id: `u-${index}-${i}`, user_properties: { i } })),
  });

async function memberCount(url: string) {
  const body = (await (await fetch(`${url}/cohorts`)).json()) as {
    cohorts: { cohort_id: string; members: number }[];
  };
  return body.cohorts.find((cohort) => cohort.cohort_id === 'big')?.members ?? 0;
}

describe('process lifecycle', () => {
  it('drains acknowledged batches on SIGTERM, exits 0, and has them all after a restart', async () => {
    // The memory queue's drain: what the defaults' inbox does not apply waits on disk (kill-default.test.ts).
    const env = { QUEUE: 'memory', SQLITE_PATH: join(dir, 'cohorts.db') };
    const first = await startReceiverProcess({ env });
    const batches = 40;
    const usersPerBatch = 5000;
    const answers = await Promise.all(
      Array.from({ length: batches }, (_, i) =>
        fetch(`${first.url}/webhook`, { method: 'POST', body: batchBody(i, usersPerBatch) }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(batches).fill(200));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const draining = first.logLines.find((line) => line.msg === 'shutting down: draining the queue');
    // Proof that the signal came while work was still waiting, so the drain is what saved it.
    expect(draining?.batches).toBeGreaterThan(0);

    const second = await startReceiverProcess({ env });
    try {
      expect(await memberCount(second.url)).toBe(batches * usersPerBatch);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('exits at once on a second signal', async () => {
    // The log sink's line per change keeps the backlog from draining before the second signal.
    const first = await startReceiverProcess({ env: { SQLITE_PATH: join(dir, 'cohorts.db'), SINKS: 'log' } });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${first.url}/webhook`, { method: 'POST', body: batchBody(i, 5000) }),
      ),
    );
    first.child.kill('SIGTERM');
    // Two signals sent back to back merge into one in the kernel: wait until the first is handled.
    await first.waitForLog('signal received');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(1);
    expect(first.logLines.some((line) => line.msg === 'second signal: exiting now')).toBe(true);
  });

  it('refuses to start with exactly one plain line per bad variable on stderr, and nothing else', async () => {
    const { code, stdout, stderr } = await runReceiverToExit({ PORT: 'eighty', STORE: 'mongo' });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'invalid configuration: PORT: must be an integer from 0 to 65535\n' +
        `invalid configuration: STORE: Invalid option: expected one of ${offeredChoices('STORE')}\n`,
    );
    expect(stdout).toBe('');
  });

  it('refuses an http sink without its URL in one plain line, no JSON log line or stack', async () => {
    const { code, stdout, stderr } = await runReceiverToExit({
      SINKS: 'http',
      SQLITE_PATH: join(dir, 'cohorts.db'),
    });
    expect(code).toBe(1);
    expect(stderr).toBe('invalid configuration: SINK_HTTP_URL: required: where the sink POSTs\n');
    expect(stdout).toBe('');
  });

  it('refuses to start when SQLITE_PATH cannot be written: one plain line naming the file', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const { code, stdout, stderr } = await runReceiverToExit({ SQLITE_PATH: join(file, 'cohorts.db') });
    expect(code).toBe(1);
    expect(stderr.split('\n')).toEqual([expect.stringMatching(/^could not start: .*/), '']);
    // The inbox beside the store is the first file opened.
    expect(stderr).toContain(join(file, 'cohorts.inbox.db'));
    // The warnings before the failure may be logged; no fatal line with the error and its stack.
    expect(stdout).not.toMatch(/"level":60|"stack"/);
  });

  it('with auth off, listens on loopback only and says so; with tokens, on every interface', async () => {
    // HOST='' is HOST unset: the default is what is checked.
    const open = await startReceiverProcess({ env: { SQLITE_PATH: join(dir, 'open.db'), HOST: '' } });
    open.child.kill('SIGTERM');
    await open.exited;
    expect(open.logLines.find((line) => line.msg === 'listening')?.host).toBe('127.0.0.1');
    const warning = open.logLines.find(
      (line) => line.level === 40 && String(line.msg).includes('AUTH IS OFF'),
    );
    expect(warning?.msg).toContain('listening on 127.0.0.1 only');
    expect(warning?.msg).toContain('set AUTH_TOKENS');

    const guarded = await startReceiverProcess({
      env: {
        SQLITE_PATH: join(dir, 'guarded.db'),
        AUTH_TOKENS: '3f9c1e7a5b2d8f40a6c3e1b7d9f2a5c8',
        HOST: '',
      },
    });
    guarded.child.kill('SIGTERM');
    await guarded.exited;
    expect(guarded.logLines.find((line) => line.msg === 'listening')?.host).toBe('0.0.0.0');
    expect(guarded.logLines.some((line) => String(line.msg).includes('AUTH IS OFF'))).toBe(false);
  });

  it('refuses HOST=0.0.0.0 without tokens in one line, and starts with AUTH_TOKENS=none, warning loudly', async () => {
    const refused = await runReceiverToExit({ SQLITE_PATH: join(dir, 'refused.db'), HOST: '0.0.0.0' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'invalid configuration: AUTH_TOKENS: required when HOST=0.0.0.0 is reachable from the network; set AUTH_TOKENS=none to run without auth anyway\n',
    );
    const open = await startReceiverProcess({
      env: { SQLITE_PATH: join(dir, 'none.db'), HOST: '0.0.0.0', AUTH_TOKENS: 'none' },
    });
    open.child.kill('SIGTERM');
    await open.exited;
    expect(open.logLines.find((line) => line.msg === 'listening')?.host).toBe('0.0.0.0');
    const warning = open.logLines.find(
      (line) => line.level === 40 && String(line.msg).includes('AUTH IS OFF'),
    );
    expect(warning?.msg).toContain('anyone who can reach this port can change cohort membership');
  });
});
