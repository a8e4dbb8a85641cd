/**
 * Error hygiene: no answer carries a stack trace or an internal path, whatever goes wrong; no log
 * line of a real child process carries a secret (auth tokens, right or wrong, in a header or the
 * `?token=` query; passwords in DATABASE_URL, REDIS_URL, the HTTP sink's URL and headers), at
 * start-up, per request, or when start-up fails.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiverNotReady, runReceiverToExit, startReceiverProcess } from '../../bench/receiver-process.ts';
import { loadConfig } from '../../src/compose.ts';
import { buildVariables } from '../support/offered.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { firstResponse, openConnection } from './raw-http.ts';
import { amplitudeBody, startTestReceiver } from './receiver.ts';

/** A stack frame, a source position or an absolute path of this machine. */
const internals = [
  /\n\s+at /,
  /\bat \S+ \(/,
  /\(\S+:\d+:\d+\)/,
  /\.ts:\d/,
  /node_modules/,
  /\/work\//,
  /\/src\//,
];
const root = fileURLToPath(new URL('../..', import.meta.url));

function expectNothingInternal(text: string, context: string) {
  for (const pattern of internals) expect(text, `${context}: ${text.slice(0, 300)}`).not.toMatch(pattern);
  expect(text, context).not.toContain(root);
}

describe('answers carry no stack trace or internal path', () => {
  it('for every kind of error the receiver gives, its own failures included', async () => {
    // An internal failure whose message and stack are full of paths, as a real bug's would be.
    const bug = new Error(`ENOENT: no such file, open '${root}src/store/sqlite.ts'`);
    let holdApplies = true;
    const receiver = await startTestReceiver(
      {
        AUTH_TOKENS: 'good-token',
        QUEUE: 'memory',
        QUEUE_MAX_USERS: '1',
        SINKS: 'none',
        MAX_BODY_BYTES: '1024',
      },
      {
        wrapStore: (store) => ({
          ...store,
          listCohorts: () => Promise.reject(bug),
          async applyBatch(batch, options) {
            while (holdApplies) await new Promise((resolve) => setTimeout(resolve, 10));
            return store.applyBatch(batch, options);
          },
        }),
      },
    );
    try {
      const auth = { authorization: 'Bearer good-token' };
      const asked: [string, string, RequestInit][] = [
        ['401', '/webhook', { method: 'POST', body: '{}' }],
        ['400', '/webhook', { method: 'POST', headers: auth, body: '{"users": [' }],
        ['400 utf-8', '/webhook', { method: 'POST', headers: auth, body: Buffer.from([0x7b, 0xff, 0x7d]) }],
        ['422', '/webhook', { method: 'POST', headers: auth, body: '{"users": 5}' }],
        ['413', '/webhook', { method: 'POST', headers: auth, body: 'x'.repeat(2048) }],
        ['200', '/webhook', { method: 'POST', headers: auth, body: amplitudeBody('held', ['u1']) }],
        ['503', '/webhook', { method: 'POST', headers: auth, body: amplitudeBody('refused', ['u2']) }],
        ['500', '/cohorts', { headers: auth }],
        ['404', '/nowhere', { headers: auth }],
        ['405 method', '/webhook', { headers: auth }],
        ['400 limit', '/cohorts/c/members?limit=0', { headers: auth }],
        ['cursor', '/cohorts/c/members?cursor=%00%ff', { headers: auth }],
      ];
      const statuses: number[] = [];
      for (const [label, path, init] of asked) {
        const response = await fetch(`${receiver.url}${path}`, init);
        const text = await response.text();
        statuses.push(response.status);
        expect(response.headers.get('content-type'), label).toMatch(/^application\/json/);
        expect(() => JSON.parse(text), label).not.toThrow();
        expectNothingInternal(text, label);
      }
      expect(statuses.slice(0, 10)).toEqual([401, 400, 400, 422, 413, 200, 503, 500, 404, 405]);
      // Node's own refusals, answered by the connection guard.
      for (const raw of [
        '\x00garbage\r\n\r\n',
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ]) {
        const connection = await openConnection(receiver.port);
        connection.socket.write(raw);
        await connection.closedWithin(10_000);
        expectNothingInternal(connection.received(), 'raw');
        expect(firstResponse(connection.received())?.json).toMatchObject({ error: expect.any(String) });
      }
      // The bug is in the log, whole, for the operator.
      const logged = receiver.logLines.find((line) => line.msg === 'unexpected error');
      expect((logged?.err as { message?: string } | undefined)?.message).toBe(bug.message);
    } finally {
      holdApplies = false;
      await receiver.stop();
    }
  });
});

const secrets = {
  token: 'tok-S3cretAlpha',
  rotated: 'tok-S3cretBeta',
  wrong: 'tok-WrongS3cret',
  postgres: 'pg-S3cret',
  redis: 'redis-S3cret',
  sinkHeader: 'sink-hdr-S3cret',
  sinkUrl: 'sink-url-S3cret',
};

function expectNoSecret(output: string, context: string) {
  for (const [name, secret] of Object.entries(secrets)) {
    expect(output.includes(secret), `${context}: the ${name} secret reached the output`).toBe(false);
  }
}

describe('secrets never reach a log line', () => {
  let dir: TempDir;
  let sinkTarget: Server;
  let sinkPort: number;
  beforeAll(async () => {
    dir = await createTempDir('hygiene');
    // The HTTP sink's target refuses everything, so the sink logs its failures.
    sinkTarget = createServer((_, response) => response.writeHead(500).end('no'));
    await new Promise<void>((resolve) => sinkTarget.listen(0, '127.0.0.1', resolve));
    sinkPort = (sinkTarget.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => sinkTarget.close(resolve));
    await dir.remove();
  });

  const secretEnv = () => ({
    AUTH_TOKENS: `${secrets.token},${secrets.rotated}`,
    DATABASE_URL: `postgres://cohorts:${secrets.postgres}@127.0.0.1:5432/cohorts`,
    REDIS_URL: `redis://:${secrets.redis}@127.0.0.1:6379`,
    SINKS: 'log,http',
    SINK_HTTP_URL: `http://127.0.0.1:${sinkPort}/hook`,
    SINK_HTTP_HEADERS: JSON.stringify({ Authorization: `Bearer ${secrets.sinkHeader}` }),
    SINK_MAX_ATTEMPTS: '2',
    SINK_HTTP_TIMEOUT_MS: '1000',
    SQLITE_PATH: `${dir.path}/cohorts.db`,
  });

  it('at start-up, per request (right and wrong tokens, header and query) and at shutdown', async () => {
    const child = await startReceiverProcess({ env: { ...secretEnv(), LOG_LEVEL: 'debug' } });
    const send = (path: string, init: RequestInit = {}) => fetch(`${child.url}${path}`, init);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}`, cookie: `session=${token}` });
    const answers = [
      await send('/webhook', {
        method: 'POST',
        headers: bearer(secrets.token),
        body: amplitudeBody('s1', ['u1']),
      }),
      await send(`/webhook?token=${secrets.rotated}`, { method: 'POST', body: amplitudeBody('s2', ['u2']) }),
      await send('/webhook', { method: 'POST', headers: { authorization: secrets.wrong }, body: '{}' }),
      await send(`/webhook?token=${secrets.wrong}&x=1`, { method: 'POST', body: '{}' }),
      await send(`/webhook?token=${secrets.token}`, { method: 'POST', body: '{"not json' }),
      await send(`/metrics?token=${secrets.token}`),
      await send(`/cohorts?token=${secrets.token}`),
      await send(`/nowhere?token=${secrets.token}`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 401, 401, 400, 200, 200, 404]);
    const connection = await openConnection(Number(new URL(child.url).port));
    connection.socket.write(
      `GET /webhook?token=${secrets.token} HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    await connection.closedWithin(10_000);
    // Let the HTTP sink fail its deliveries and log them before stopping.
    await child.waitForLog('membership change');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.child.kill('SIGTERM');
    await child.exited;
    const output = `${child.logLines.map((line) => JSON.stringify(line)).join('\n')}\n${child.stderr()}`;
    expect(child.logLines.length).toBeGreaterThan(10);
    // The HTTP sink did try, and logged its failures: its headers had every chance to leak.
    expect(output).toContain(`127.0.0.1:${sinkPort}`);
    expectNoSecret(output, 'a running receiver');
  });

  it('when the configuration is refused', async () => {
    const { code, output } = await runReceiverToExit({
      ...secretEnv(),
      DATABASE_URL: `mysql://cohorts:${secrets.postgres}@db.internal/cohorts`,
      REDIS_URL: `http://:${secrets.redis}@cache.internal`,
      SINK_HTTP_HEADERS: `{"Authorization": "Bearer ${secrets.sinkHeader}"`,
      // fetch refuses credentials in a URL, and its error would print them: refused at start-up.
      SINK_HTTP_URL: `http://hook:${secrets.sinkUrl}@127.0.0.1:${sinkPort}/hook`,
    });
    expect(code).toBe(1);
    // Each one this build reads (a build without the Redis extension has no REDIS_URL to refuse).
    const variables = buildVariables();
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'SINK_HTTP_HEADERS', 'SINK_HTTP_URL']) {
      if (variables.has(name) || name.startsWith('SINK_')) expect(output).toContain(name);
    }
    expectNoSecret(output, 'a refused configuration');
  });

  it('when a backend with a password in its URL cannot be reached (each mode this build supports)', async () => {
    const modes = [{ STORE: 'postgres' }, { STORE: 'redis' }, { QUEUE: 'redis' }].filter((mode) => {
      try {
        loadConfig(mode);
        return true;
      } catch {
        return false;
      }
    });
    for (const mode of modes) {
      const output = await runBriefly({
        ...secretEnv(),
        // Port 1: nothing listens, so the connection fails and the failure is reported.
        DATABASE_URL: `postgres://cohorts:${secrets.postgres}@127.0.0.1:1/cohorts`,
        REDIS_URL: `redis://:${secrets.redis}@127.0.0.1:1`,
        ...mode,
      });
      expectNoSecret(output, JSON.stringify(mode));
    }
  });
});

/**
 * Runs main.ts with `env`: if it comes up, sends it one authorised batch and stops it with SIGTERM;
 * it is killed if it neither exits nor listens within 10 s. Returns all it printed.
 */
async function runBriefly(env: Record<string, string>): Promise<string> {
  const started = await startReceiverProcess({
    env: { LOG_LEVEL: 'debug', ...env },
    startTimeoutMs: 10_000,
  }).catch((error: unknown) => {
    if (error instanceof ReceiverNotReady) return error.output;
    throw error;
  });
  if (typeof started === 'string') return started;
  await fetch(`${started.url}/webhook`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secrets.token}` },
    body: amplitudeBody('backend-down', ['u1']),
  }).catch(() => undefined);
  await started.stop(10_000);
  return started.output();
}
