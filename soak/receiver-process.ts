/** @module The receiver under soak: `src/main.ts` in a child process of its own, its log in a file. */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export interface ReceiverProcess {
  url: string;
  pid: number;
  logPath: string;
  /** True while the process has neither exited nor been killed. */
  isRunning(): boolean;
  /** SIGTERM (the receiver drains), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts the receiver and resolves once `/healthz` answers; rejects if it exits first. */
export async function startReceiverProcess(
  env: Record<string, string>,
  workDir: string,
): Promise<ReceiverProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(workDir, 'receiver.log');
  const log = openSync(logPath, 'w');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SQLITE_PATH: join(workDir, 'cohorts.db'),
      LOG_LEVEL: 'warn',
      // One log line per membership change would make the soak measure the log sink.
      SINKS: 'none',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  for (let waited = 0; ; waited += 50) {
    if (!isRunning())
      throw new Error(`the receiver exited with ${child.exitCode} before answering; see ${logPath}`);
    if (waited > 60_000) throw new Error(`the receiver did not answer /healthz within 60 s; see ${logPath}`);
    const ready = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await sleep(50);
  }
  return {
    url,
    pid: child.pid ?? 0,
    logPath,
    isRunning,
    async stop(graceMs = 30_000) {
      if (!isRunning()) return child.exitCode;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}
