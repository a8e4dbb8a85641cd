/**
 * @module A Postgres server of a test's own: a cluster made with `initdb` in a temporary directory
 * and run on a free port as the `postgres` user, so a test can stop it (`pg_ctl stop -m fast`) or
 * kill its postmaster (SIGKILL) and start it again, without touching the shared Postgres on 5432.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../bench/receiver-process.ts';
import type { ServiceProbe } from './services.ts';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Starts it (again) on the same port and files; resolves once it accepts connections. */
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: sessions are ended (57P01), the server exits cleanly. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster: the next start recovers from the WAL. */
  kill(): Promise<void>;
  /** Stops it if it runs and deletes its files. */
  remove(): Promise<void>;
}

/** Whether this machine can run a Postgres of the test's own: the binaries, and root to become `postgres`. */
export function privatePostgresProbe(): ServiceProbe {
  const name = 'a private Postgres (initdb and pg_ctl, run as the postgres user)';
  try {
    if (process.getuid?.() !== 0)
      throw new Error('the test must run as root to run Postgres as the postgres user');
    execFileSync('runuser', ['-u', 'postgres', '--', 'pg_ctl', '--version'], { stdio: 'ignore' });
    return { name, available: true, reason: '' };
  } catch (error) {
    return { name, available: false, reason: (error as Error).message };
  }
}

const asPostgres = (args: string[]) => run('runuser', ['-u', 'postgres', '--', ...args], { timeout: 60_000 });

/** A new cluster on a free port, started. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'private-postgres-'));
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = await freePort();
  await asPostgres(['initdb', '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`;
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const isRunning = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  const server: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      // After a kill -9, the old server's backends notice their postmaster died and exit within
      // moments; a start before that refuses (its shared memory is still in use): try again.
      for (let tries = 1; ; tries += 1) {
        try {
          await asPostgres(['pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
          return;
        } catch (error) {
          if (tries >= 20) throw error;
          await sleep(250);
        }
      }
    },
    async stop() {
      await asPostgres(['pg_ctl', '-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async kill() {
      const pid = postmasterPid();
      process.kill(pid, 'SIGKILL');
      while (isRunning(pid)) await sleep(20);
    },
    async remove() {
      await asPostgres(['pg_ctl', '-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no postgres user in /etc/passwd');
  return { uid: Number(uid), gid: Number(gid) };
}
