/**
 * `npm run sinks` and `npm run backfill` as an operator runs them: child processes with their own
 * environment, talking to a real receiver started as `npm start` starts it (QUEUE and STORE memory:
 * the CLIs reach its state through its API only), with an HTTP sink posting to a capture server.
 * Then the pure parts (arguments, the bar, the table) on their own.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackfillDeps,
  type CliDeps,
  parseBackfillArguments,
  parseSinksArguments,
  progressLine,
  progressMeter,
  renderStatus,
  runBackfill,
  runSinks,
  type StatusJson,
  targetFrom,
} from '../../src/cli/sinks-command.ts';
import { loadConfig, type RunningReceiver, startReceiver } from '../../src/compose.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { type Downstream, startDownstream } from '../sinks/downstream.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const token = 'sinks-cli-test-secret-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx src/cli/<file> …argv` with only `env` (and PATH) in its environment. */
function cli(file: 'sinks.ts' | 'backfill.ts', argv: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/cli/${file}`, ...argv], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const delivered = (downstream: Downstream) =>
  downstream.accepted().flatMap((request) => (request.body as { changes: WireChange[] }).changes);

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Each test runs child processes (a tsx start each): room for a loaded machine.
describe('npm run sinks / npm run backfill against a running receiver (QUEUE=memory)', {
  timeout: 90_000,
}, () => {
  let dir: TempDir;
  let downstream: Downstream;
  let receiver: RunningReceiver;
  let env: Record<string, string>;
  const sinks = (...argv: string[]) => cli('sinks.ts', argv, env);
  const backfill = (...argv: string[]) => cli('backfill.ts', argv, env);

  const api = async (method: string, route: string) => {
    const response = await fetch(`${receiver.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
    });
    return (await response.json()) as StatusJson;
  };
  /** Posts a batch and returns once the store applied it (the read API's `after`). */
  const post = async (
    cohortId: string,
    messageId: string,
    inCohort: boolean,
    computedTime: number,
    userIds: string[],
  ) => {
    const response = await fetch(`${receiver.url}/webhook`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({
        cohort_id: cohortId,
        cohort_name: `Cohort ${cohortId}`,
        message_id: messageId,
        in_cohort: inCohort,
        computed_time: String(computedTime),
        users: userIds.map((user_id) => ({ user_id, user_properties: { plan: 'pro' } })),
      }),
    });
    expect(response.status).toBe(200);
    await fetch(`${receiver.url}/cohorts?after=${encodeURIComponent(messageId)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
  };
  const members = Array.from({ length: 300 }, (_, i) => `user-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    dir = await createTempDir('sinks-cli');
    downstream = await startDownstream();
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_TOKENS: token,
      QUEUE: 'memory',
      STORE: 'memory',
      SQLITE_PATH: `${dir.path}/cohorts.db`,
      SINKS: 'http',
      SINK_HTTP_URL: downstream.url,
      SINK_GUARD_MIN_MEMBERS: '100',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
    receiver = await startReceiver(config, pino({ level: 'silent' }));
    await receiver.ready;
    env = { RECEIVER_URL: receiver.url, AUTH_TOKENS: `${token},an-older-one` };
    await post('trial', 'm-1', true, 100, members);
    await downstream.waitFor(() => delivered(downstream).length === 300);
  });
  afterAll(async () => {
    await receiver?.shutdown();
    await downstream?.close();
    await dir?.remove();
  });

  it('answers --help with its usage, exit 0, nothing sent', async () => {
    const [forSinks, forBackfill] = await Promise.all([sinks('--help'), backfill('-h')]);
    expect(forSinks).toMatchObject({ code: 0, stderr: '' });
    expect(forSinks.stdout).toMatch(/^Usage: npm run sinks -- <command>/);
    expect(forSinks.stdout).toContain('release <cohort_id>');
    expect(forBackfill).toMatchObject({ code: 0, stderr: '' });
    expect(forBackfill.stdout).toMatch(/^Usage: npm run backfill -- --sink <sink>/);
    expect(forBackfill.stdout).toContain('--no-wait');
  });

  it('prints the status as a table', async () => {
    const run = await sinks('status');
    expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')).toEqual([
      'SINK  STATE    WAITING  HELD  BACKFILL',
      'http  running        0     0  -',
      '',
      'no cohort held by the mass-exit guard',
      '',
    ]);
  });

  it('pauses a sink, shows who paused it and what waits, and resumes it', async () => {
    const paused = await sinks('pause', 'http');
    expect(paused, paused.stderr).toMatchObject({ code: 0 });
    expect(paused.stdout).toBe(
      'paused http: its changes wait, in order, until `npm run sinks -- resume http` (0 waiting now)\n',
    );
    await post('trial', 'm-2', true, 200, ['late-user']);
    await until(async () => (await api('GET', '/sinks')).sinks[0]?.waiting === 1, 'the change to wait');
    expect(delivered(downstream)).toHaveLength(300);

    const status = await sinks('status');
    expect(status.stdout).toMatch(/^http {2}paused \d+s ago by api [0-9a-f]{8} +1 +0 {2}-$/m);

    const resumed = await sinks('resume', 'http');
    expect(resumed, resumed.stderr).toMatchObject({ code: 0 });
    expect(resumed.stdout).toBe('resumed http: 1 change waiting goes out now, oldest first\n');
    await downstream.waitFor(() => delivered(downstream).some((change) => change.user_id === 'late-user'));
  });

  it('backfills to completion: a progress line, then a summary, and the sink has every member', async () => {
    const before = delivered(downstream).length;
    const run = await backfill('--sink', 'http');
    expect(run, run.stderr).toMatchObject({ code: 0 });
    // stderr is a pipe here, not a terminal: whole lines, no carriage returns.
    expect(run.stderr).toContain('backfill of http started: 1 cohort, 301 members\n');
    expect(run.stderr).toMatch(/^\[[#.]{30}\] \d+\/301 {2}\d+\.\d% {2}\S+\/s {2}ETA \S+$/m);
    expect(run.stderr).not.toContain('\r');
    expect(run.stdout).toMatch(/^backfill of http done in \d+\.\d s: 1 cohort, 301 members\n$/);

    // Done means done: the backfill is over when the command returns.
    expect((await api('GET', '/sinks')).sinks[0]?.backfill).toBeNull();
    await downstream.waitFor(() => delivered(downstream).length >= before + 301);
    const restated = delivered(downstream)
      .slice(before)
      .filter((change) => change.restated);
    expect(new Set(restated.map((change) => change.user_id))).toEqual(new Set([...members, 'late-user']));
    expect(restated.every((change) => change.kind === 'entered' && change.cohort_id === 'trial')).toBe(true);
  });

  it('starts and returns with --no-wait, one cohort with --cohort', async () => {
    const run = await backfill('--sink', 'http', '--cohort', 'trial', '--no-wait');
    expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      'backfill of http started: 1 cohort, 301 members; follow it with `npm run sinks -- status`\n',
    );
    await until(async () => (await api('GET', '/sinks')).sinks[0]?.backfill === null, 'the backfill to end');
  });

  it('exits 1 with the receiver’s message when it refuses', async () => {
    const [unknownSink, unknownCohort, notHeld] = await Promise.all([
      backfill('--sink', 'nope'),
      backfill('--sink', 'http', '--cohort', 'missing'),
      sinks('release', 'trial'),
    ]);
    expect(unknownSink).toEqual({ code: 1, stdout: '', stderr: 'no sink named "nope"; SINKS names http\n' });
    expect(unknownCohort).toMatchObject({ code: 1, stdout: '' });
    expect(unknownCohort.stderr).toMatch(/^sink "http" does not take members of cohort "missing"/);
    expect(notHeld).toEqual({ code: 1, stdout: '', stderr: 'cohort "trial" is not held\n' });
  });

  it('shows a held cohort with its numbers, and discards it', async () => {
    const group = Array.from({ length: 150 }, (_, i) => `g-${i}`);
    await post('g', 'g-in', true, 100, group);
    await downstream.waitFor(
      () => delivered(downstream).filter((change) => change.cohort_id === 'g').length === 150,
    );
    await post('g', 'g-out', false, 200, group);
    await until(async () => (await api('GET', '/sinks')).holds.length === 1, 'the hold');

    const status = await sinks('status');
    expect(status, status.stderr).toMatchObject({ code: 0 });
    const lines = status.stdout.split('\n');
    expect(lines[1]).toMatch(/^http {2}running +0 +150 {2}-$/);
    expect(lines.slice(3)).toEqual([
      'held by the mass-exit guard (1): its changes wait at every sink',
      expect.stringMatching(/^COHORT {2}NAME +HELD FOR +EXITS +OF MEMBERS +RATIO +LIMIT$/),
      expect.stringMatching(/^g +Cohort g +\d+s +150 +150 +100\.0% +50\.0%$/),
      'release sends them: npm run sinks -- release <cohort_id>',
      'discard drops them (the sinks keep the members they had): npm run sinks -- discard <cohort_id>',
      '',
    ]);

    const discarded = await sinks('discard', 'g');
    expect(discarded).toEqual({
      code: 0,
      stdout: 'discarded cohort g: its 150 changes held are dropped; the sinks keep the members they had\n',
      stderr: '',
    });
    expect((await api('GET', '/sinks')).holds).toEqual([]);
  });

  it('says so when the secret is missing or wrong (401)', async () => {
    const [none, wrong] = await Promise.all([
      cli('sinks.ts', ['status'], { RECEIVER_URL: receiver.url }),
      cli('sinks.ts', ['status', '--token', 'not-it'], env),
    ]);
    expect(none).toEqual({
      code: 1,
      stdout: '',
      stderr: `the receiver at ${receiver.url} wants its secret (401): pass --token, or set AUTH_TOKENS as the receiver has it\n`,
    });
    expect(wrong).toMatchObject({ code: 1, stdout: '' });
    expect(wrong.stderr).toMatch(/refused the secret \(401\): --token or the first of AUTH_TOKENS/);
  });

  it('names the URL and how to set it when nothing listens there', async () => {
    const port = await closedPort();
    const [byOption, byDefault] = await Promise.all([
      cli('backfill.ts', ['--sink', 'http', '--url', `http://127.0.0.1:${port}`], env),
      cli('sinks.ts', ['status'], { PORT: String(port), AUTH_TOKENS: token }),
    ]);
    for (const run of [byOption, byDefault]) {
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `cannot reach the receiver at http://127.0.0.1:${port} (connection refused: nothing listens there). Is it running? If it listens elsewhere, set it with --url or RECEIVER_URL (default http://127.0.0.1:$PORT, PORT 8080)\n`,
      });
    }
  });

  it('exits 2 on bad usage, with the usage on stderr', async () => {
    const [noSink, unknown, missingName] = await Promise.all([
      backfill('--cohort', 'trial'),
      sinks('frobnicate'),
      sinks('pause'),
    ]);
    expect(noSink).toMatchObject({ code: 2, stdout: '' });
    expect(noSink.stderr).toMatch(/^name the sink: --sink <sink>\n\nUsage: npm run backfill/);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^unknown command frobnicate\n\nUsage: npm run sinks/);
    expect(missingName.stderr).toMatch(/^pause needs a sink name/);
  });
});

describe('the pure parts', () => {
  const output = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, print: (line: string) => out.push(line), warn: (line: string) => err.push(line) };
  };

  it('finds the receiver as the receiver configures itself', () => {
    expect(targetFrom({}, {})).toEqual({
      url: 'http://127.0.0.1:8080',
      token: undefined,
      header: 'authorization',
    });
    expect(targetFrom({}, { PORT: '9000', AUTH_TOKENS: ' new , old', AUTH_HEADER: 'X-Secret' })).toEqual({
      url: 'http://127.0.0.1:9000',
      token: 'new',
      header: 'x-secret',
    });
    expect(
      targetFrom({}, { RECEIVER_URL: 'https://r.example/base/', PORT: '9000', AUTH_TOKENS: 'none' }),
    ).toEqual({
      url: 'https://r.example/base',
      token: undefined,
      header: 'authorization',
    });
    expect(
      targetFrom({ url: 'http://h:1', token: 't' }, { RECEIVER_URL: 'http://other', AUTH_TOKENS: 'x' }),
    ).toMatchObject({
      url: 'http://h:1',
      token: 't',
    });
    expect(() => targetFrom({ url: 'localhost:8080' }, {})).toThrow(/http:\/\/ or https:\/\//);
  });

  it('reads the arguments, in either option form', () => {
    expect(parseBackfillArguments(['--sink=crm', '--cohort', 'c1', '--no-wait'])).toEqual({
      sink: 'crm',
      cohortId: 'c1',
      wait: false,
      url: undefined,
      token: undefined,
    });
    expect(parseBackfillArguments(['crm'])).toMatchObject({ sink: 'crm', wait: true });
    expect(parseSinksArguments(['release', 'c1', '--url', 'http://h:2'])).toEqual({
      command: 'release',
      cohortId: 'c1',
      url: 'http://h:2',
      token: undefined,
    });
    expect(() => parseSinksArguments(['status', 'extra'])).toThrow(/unexpected argument extra/);
    expect(() => parseSinksArguments(['status', '--url'])).toThrow(/--url needs a value/);
    expect(() => parseBackfillArguments(['--sink', 'a', '--wait'])).toThrow(/unknown option --wait/);
  });

  it('draws the bar: share, rate and ETA', () => {
    expect(progressLine({ sent: 150, total: 300, rate: 50 }, 10)).toBe(
      '[#####.....] 150/300  50.0%  50/s  ETA 3s',
    );
    expect(progressLine({ sent: 0, total: 12_000, rate: undefined }, 10)).toBe(
      '[..........] 0/12,000  0.0%  -/s  ETA ?',
    );
    // More sent than counted at the start (members added meanwhile): full, never past 100%.
    expect(progressLine({ sent: 310, total: 300, rate: 10 }, 4)).toBe('[####] 310/300  100.0%  10/s  ETA 0s');
    expect(progressLine({ sent: 0, total: 0, rate: undefined }, 4)).toBe('[####] 0/0  100.0%  -/s  ETA 0s');
    expect(progressLine({ sent: 1000, total: 400_000, rate: 100 }, 4)).toMatch(/ETA 1h06m$/);
  });

  it('measures the rate over its recent readings', () => {
    const meter = progressMeter(10_000);
    expect(meter.add(0, 0)).toBeUndefined();
    expect(meter.add(1000, 100)).toBe(100);
    expect(meter.add(2000, 300)).toBe(150);
    // Readings older than the window drop out: the rate follows a change of pace.
    expect(meter.add(20_000, 300)).toBe(0);
    expect(meter.add(21_000, 1300)).toBe(1000);
  });

  it('tabulates sinks and holds', () => {
    const now = Date.parse('2030-01-01T12:00:00Z');
    const status: StatusJson = {
      sinks: [
        {
          name: 'http-crm',
          cohorts: ['*'],
          directions: ['entered', 'left', 'updated'],
          paused: { at: '2030-01-01T10:55:00Z', by: 'api 1a2b3c4d' },
          waiting: 12_345,
          held: 0,
          backfill: null,
        },
        {
          name: 'log',
          cohorts: ['*'],
          directions: ['entered'],
          paused: null,
          waiting: 0,
          held: 7,
          backfill: {
            cohorts_left: ['a', 'b'],
            sent: 250,
            total: 1000,
            started_at: '2030-01-01T11:59:00Z',
            started_by: 'api 1a2b3c4d',
          },
        },
      ],
      holds: [
        {
          cohort_id: 'q3k9xw1',
          cohort_name: 'Trial ending soon',
          tripped_at: '2030-01-01T11:30:00Z',
          window_opened_at: '2030-01-01T11:20:00Z',
          members_at_open: 2000,
          exits: 1500,
          max_exit_ratio: 0.5,
        },
      ],
    };
    expect(renderStatus(status, now)).toEqual([
      'SINK      STATE                             WAITING  HELD  BACKFILL',
      'http-crm  paused 1h05m ago by api 1a2b3c4d   12,345     0  -',
      'log       backfilling                             0     7  250/1,000 25.0%, 2 cohorts left',
      '',
      'held by the mass-exit guard (1): its changes wait at every sink',
      'COHORT   NAME               HELD FOR  EXITS  OF MEMBERS  RATIO  LIMIT',
      'q3k9xw1  Trial ending soon  30m00s    1,500       2,000  75.0%  50.0%',
      'release sends them: npm run sinks -- release <cohort_id>',
      'discard drops them (the sinks keep the members they had): npm run sinks -- discard <cohort_id>',
    ]);
  });

  it('follows a backfill with a bar redrawn in place on a terminal', async () => {
    // What GET /sinks answers at each poll, after the POST answered 0 of 1,000.
    const readings = [{ sent: 400, total: 1000 }, { sent: 900, total: 1000 }, null];
    let clock = 0;
    const written: string[] = [];
    const { out, err, print, warn } = output();
    const answer = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });
    const sink = (backfill: { sent: number; total: number } | null) => ({
      name: 'crm',
      paused: null,
      waiting: 0,
      held: 0,
      backfill: backfill && {
        ...backfill,
        cohorts_left: ['c'],
        started_at: '2030-01-01T00:00:00Z',
        started_by: 'x',
      },
    });
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      expect(new Headers(init?.headers).get('authorization')).toBe('Bearer s3cret');
      if (init?.method === 'POST') {
        expect(String(url)).toBe('http://127.0.0.1:8080/sinks/crm/backfill');
        return answer(sink({ sent: 0, total: 1000 }));
      }
      expect(String(url)).toBe('http://127.0.0.1:8080/sinks');
      return answer({ sinks: [sink(readings.shift() ?? null)], holds: [] });
    }) as typeof fetch;
    const deps: BackfillDeps = {
      env: { AUTH_TOKENS: 's3cret' },
      fetch: fakeFetch,
      now: () => clock,
      wait: async (ms: number) => {
        clock += ms;
      },
      print,
      warn,
      progress: { isTTY: true, write: (text: string) => written.push(text) },
    };
    expect(await runBackfill(['--sink', 'crm'], deps)).toBe(0);
    expect(err).toEqual(['backfill of crm started: 1 cohort, 1,000 members']);
    expect(written.every((text) => text.startsWith('\r'))).toBe(true);
    expect(written.at(-1)).toBe(`\r[${'#'.repeat(30)}] 1,000/1,000  100.0%  -/s  ETA 0s\x1b[K\n`);
    expect(written.some((text) => text.includes('400/1,000  40.0%  800/s  ETA 1s'))).toBe(true);
    expect(out).toEqual(['backfill of crm done in 1.5 s: 1 cohort, 1,000 members']);
  });

  it('exits 2 on bad usage without sending anything', async () => {
    const { err, print, warn } = output();
    const deps: CliDeps = {
      env: {},
      fetch: (() => {
        throw new Error('sent');
      }) as unknown as typeof fetch,
      print,
      warn,
    };
    expect(await runSinks(['pause'], deps)).toBe(2);
    expect(await runSinks(['status', '--url', 'not a url'], deps)).toBe(2);
    expect(err[1]).toMatch(/^not a URL: not a url/);
  });
});
