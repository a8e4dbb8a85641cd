/**
 * @module Starts a server (the receiver, the floor, a bare apply loop) in a child process of its
 * own, optionally pinned to one CPU with taskset, its output sent to a log file (not through this
 * process, which generates the load).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from here so `--import tsx` and relative paths resolve. */
export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export interface ServerProcess {
  url: string;
  pid: number;
  logPath: string;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  /** Names the log file. */
  name: string;
  /** A .ts file under the repository, run with `node --import tsx`. */
  script: string;
  env: Record<string, string>;
  /** Where the log goes. */
  workDir: string;
  /** Pin to this CPU (taskset -c). */
  cpu?: number | undefined;
  nodeArgs?: string[];
  /** Polled until it answers 200. @default /healthz */
  readyPath?: string;
  /** @default 60 s */
  startTimeoutMs?: number;
  /** Aborting it while the server starts stops the child and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Picks a free port on 127.0.0.1 (the child then binds it; the race is harmless here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function nodeCommand(script: string, nodeArgs: string[] = [], cpu?: number) {
  const node = [process.execPath, ...nodeArgs, '--import', 'tsx', script];
  return cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
}

/** Starts the server and resolves once it answers; rejects with its log's tail if it exits first. */
export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(options.workDir, `${options.name}.log`);
  const log = openSync(logPath, 'w');
  const [command, ...args] = nodeCommand(options.script, options.nodeArgs, options.cpu) as [
    string,
    ...string[],
  ];
  const child = spawn(command, args, {
    cwd: repositoryRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...options.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | 'running' = 'running';
  void exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (exitCode === 'running') {
    if (options.signal?.aborted) {
      await stopChild(child, exited, 1000);
      throw options.signal.reason;
    }
    if (await answers(`${url}${options.readyPath ?? '/healthz'}`)) {
      return { url, pid: child.pid ?? -1, logPath, stop: (graceMs) => stopChild(child, exited, graceMs) };
    }
    if (Date.now() > deadline) {
      await stopChild(child, exited, 1000);
      throw new Error(`${options.name} did not answer within the start timeout:\n${logTail(logPath)}`);
    }
    await sleep(100);
  }
  throw new Error(`${options.name} exited with ${exitCode} before answering:\n${logTail(logPath)}`);
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The last lines of a log, for error messages. */
export function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
