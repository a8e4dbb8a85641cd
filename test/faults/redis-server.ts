/**
 * @module A private redis-server for fault tests: on a free port of its own, with its files in a
 * directory of the test's, so it can be stopped (SIGTERM: Redis' SHUTDOWN, which writes its
 * append-only file and exits) or killed (SIGKILL) and started again on the same port and files
 * without touching the shared Redis on 6379.
 *
 * It keeps an append-only file synced on every write (`appendfsync always`), as production should:
 * a Redis that comes back empty after a kill -9 would lose acknowledged batches by design.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../bench/receiver-process.ts';
import type { ServiceProbe } from '../support/services.ts';

export interface PrivateRedis {
  url: string;
  port: number;
  /** Starts it (again) on the same port and directory; resolves once it answers PING. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
}

/** Whether the redis-server program can be run here. */
export function redisServerProbe(): ServiceProbe {
  const name = 'Redis (the redis-server program)';
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return { name, available: true, reason: '' };
  } catch (error) {
    return { name, available: false, reason: (error as Error).message };
  }
}

/** A redis-server on a free port keeping its files in `dir`, started. */
export async function startPrivateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const end = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
      args.push('--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no');
      child = spawn('redis-server', args, { stdio: 'ignore' });
      for (let waited = 0; (await ping(port)) !== '+PONG'; waited += 50) {
        if (waited > 15_000) throw new Error(`the private redis-server on port ${port} did not answer`);
        await sleep(50);
      }
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
  await redis.start();
  return redis;
}

/** PING over a raw socket: `+PONG`, `-LOADING …` while it reads its files, or `down`. */
function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().trim());
    });
    socket.once('error', () => resolve('down'));
  });
}
