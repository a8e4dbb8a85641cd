/**
 * Redis killed and started again under a running receiver (a private redis-server on a port of its
 * own): while it is down the webhook answers 503 backend_unavailable and /readyz says so;
 * when it is back, the same receiver process accepts again and applies everything it acknowledged.
 *
 * The private Redis keeps an append-only file with `appendfsync always`, as production should
 * (README: appendonly yes): without persistence a restarted Redis comes back empty and "nothing
 * lost" could not hold for batches acknowledged but not yet applied.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import { addBody, cohortsOf, eventually, post } from '../durability/traffic.ts';
import { describeWithService } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const redisServerInstalled = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return { name: 'Redis (the redis-server program)', available: true, reason: '' };
  } catch (error) {
    return { name: 'Redis (the redis-server program)', available: false, reason: (error as Error).message };
  }
})();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeWithService(redisServerInstalled, 'Redis stopped and started under a running receiver', () => {
  let dir: TempDir;
  let port: number;
  let redis: ChildProcess | undefined;
  let receiver: RunningReceiver;

  const startRedis = async () => {
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', ''].concat([
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--daemonize',
        'no',
      ]),
      { stdio: 'ignore' },
    );
    await eventually(async () => (await probe()) === '+PONG', 'the private Redis to answer', 10_000);
  };
  const stopRedis = async () => {
    const child = redis;
    redis = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const probe = () =>
    new Promise<string>((resolve) => {
      const client = connect({ port, host: '127.0.0.1' }, () => client.write('PING\r\n'));
      client.once('data', (data) => {
        client.destroy();
        resolve(data.toString().trim());
      });
      client.once('error', () => resolve('down'));
    });

  beforeAll(async () => {
    dir = await createTempDir('redis-restart');
    port = await freePort();
    await startRedis();
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      QUEUE: 'redis',
      STORE: 'sqlite',
      SINKS: 'none',
      SQLITE_PATH: join(dir.path, 'cohorts.db'),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      KEY_PREFIX: 'restart-test',
      LOG_LEVEL: 'silent',
    });
    receiver = await startReceiver(config, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await receiver?.shutdown();
    await stopRedis();
    await dir?.remove();
  });

  const batch = (n: number) => ({ messageId: `restart-${n}`, user: `restart-user-${n}` });
  // 3,000 users each, so batches acknowledged just before the kill are still waiting in the stream.
  const users = (n: number) => [batch(n).user, ...Array.from({ length: 2999 }, (_, i) => `filler-${n}-${i}`)];
  const send = (n: number) => post(receiver.url, addBody('restart', batch(n).messageId, users(n)));

  it('answers 503 while Redis is down, recovers by itself, and loses nothing', async () => {
    const before = await Promise.all([1, 2, 3, 4, 5].map(send));
    expect(before.map((result) => result.body.status)).toEqual(Array(5).fill('accepted'));

    await stopRedis();
    const whileDown = [];
    for (const n of [6, 7, 8, 9, 10]) whileDown.push(await send(n));
    expect(whileDown.map((result) => [result.status, result.body.reason])).toEqual(
      Array(5).fill([503, 'backend_unavailable']),
    );
    expect(whileDown.every((result) => result.headers.get('retry-after') !== null)).toBe(true);
    // Fast (no offline queue on the request path): measured and printed, not asserted, as a loaded
    // machine's scheduling would make any bound flaky.
    const times = whileDown.map((result) => Math.round(result.ms)).sort((a, b) => a - b);
    console.log(`503 answers while Redis was down: ${times.join(', ')} ms`);
    const ready = await fetch(`${receiver.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/queue: Redis unreachable/);

    await startRedis();
    await eventually(
      async () => (await fetch(`${receiver.url}/readyz`)).status === 200,
      '/readyz to recover',
    );
    // What was refused is accepted now (a 503 remembers nothing); what was accepted stays a duplicate
    // (the dedupe marks came back with the append-only file).
    const retried = await Promise.all([6, 7, 8, 9, 10].map(send));
    expect(retried.map((result) => result.body.status)).toEqual(Array(5).fill('accepted'));
    expect((await send(1)).body.status).toBe('duplicate');

    const applied = async () => {
      const states = await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => cohortsOf(receiver.url, batch(n).user)),
      );
      return states.every((cohorts) => cohorts.includes('restart'));
    };
    await eventually(applied, 'every accepted batch to be applied', 20_000);
  });
});
