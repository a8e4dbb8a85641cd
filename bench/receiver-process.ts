/**
 * @module Starts a receiver (or another server of the repository, such as the bench's floor) as a
 * child process: `node --import tsx <script>` (a .js file: plain `node <script>`) from the
 * repository root, with no environment but the one it is given. The bench and the soak send its
 * output to a file, so it does not pass through the process generating the load; the tests pipe it
 * and read its JSON log lines.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from here so `--import tsx` and relative paths resolve. */
export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export type LogLine = Record<string, unknown>;

export interface ReceiverProcessOptions {
  /** A .ts file of the repository, or a .js one of dist/ (`compiledReceiver()`). @default src/main.ts */
  script?: string;
  /** Names the process in errors. @default the script */
  name?: string;
  /** Added to PATH and HOME; HOST defaults to 127.0.0.1 (PORT: see `ready`). */
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Pin to this CPU (taskset -c). */
  cpu?: number | undefined;
  /** Where stdout and stderr go; without it they are piped into `logLines` and `stderr()`. */
  logPath?: string;
  /**
   * `'listening'`: ready once it logs that line (piped output only; PORT defaults to 0, LOG_LEVEL
   * to info, and the line says which port it took). `{ path }`: ready once `path` answers 200 on a
   * free port picked here and passed as PORT.
   * @default 'listening' when piped, `{ path: '/healthz' }` with a log file
   */
  ready?: 'listening' | { path: string };
  /** @default 60 s */
  startTimeoutMs?: number;
  /** Aborting it while the process starts stops it and rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface ReceiverProcess {
  child: ChildProcess;
  url: string;
  pid: number;
  logPath: string | null;
  /** Its stdout's JSON lines so far (piped output only). */
  logLines: LogLine[];
  /** Its stderr so far (piped output only). */
  stderr(): string;
  /** All it printed so far, stdout and stderr as they came (piped output only). */
  output(): string;
  /** Resolves with the exit code once it has exited and its output is read. */
  exited: Promise<number | null>;
  /** True while the process has neither exited nor been killed. */
  isRunning(): boolean;
  /** Resolves with the first log line (already written or to come) whose msg is `msg`. */
  waitForLog(msg: string): Promise<LogLine>;
  /** SIGTERM (a receiver drains), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** The process exited, or was stopped for not being ready in time, before it was ready. */
export class ReceiverNotReady extends Error {
  override name = 'ReceiverNotReady';
  constructor(
    message: string,
    /** All it printed (the log file's content when it had one). */
    readonly output: string,
  ) {
    super(message);
  }
}

/** Picks a free port on 127.0.0.1 (the child then binds it; the race is harmless here). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function nodeCommand(script: string, nodeArgs: string[] = [], cpu?: number): [string, ...string[]] {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const node: [string, ...string[]] = [process.execPath, ...nodeArgs, ...loader, script];
  return cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
}

let compiled = false;

/**
 * The receiver as `npm start` runs it: src/ compiled to dist/ (`npm run compile`, which writes
 * nothing when dist/ is current) and run by plain Node. What a bench measures: tsx's transform
 * names every closure as it is made, which costs the ack path several percent (docs/performance.md).
 */
export function compiledReceiver(): string {
  if (!compiled)
    execFileSync('npm', ['run', '--silent', 'compile'], { cwd: repositoryRoot, stdio: 'inherit' });
  compiled = true;
  return 'dist/main.js';
}

/** Starts the process and resolves once it is ready; rejects with ReceiverNotReady if it is not. */
export async function startReceiverProcess(options: ReceiverProcessOptions = {}): Promise<ReceiverProcess> {
  const script = options.script ?? 'src/main.ts';
  const logPath = options.logPath ?? null;
  const ready = options.ready ?? (logPath ? { path: '/healthz' } : 'listening');
  if (ready === 'listening' && logPath)
    throw new Error('the "listening" line is read from piped output only');
  const port = ready === 'listening' ? null : await freePort();
  const env = {
    HOST: '127.0.0.1',
    // The "listening" line, logged at info, says which port it took.
    ...(port === null ? { PORT: '0', LOG_LEVEL: 'info' } : {}),
    ...options.env,
    ...(port === null ? {} : { PORT: String(port) }),
  };
  const child = spawnScript(script, env, { nodeArgs: options.nodeArgs, cpu: options.cpu, logPath });
  const followed = follow(child, logPath);
  const readyUrl = async () => {
    if (ready === 'listening') {
      const listening = followed.logLines.find((line) => line.msg === 'listening');
      return listening ? `http://127.0.0.1:${listening.port}` : null;
    }
    const url = `http://127.0.0.1:${port}`;
    return (await answers(`${url}${ready.path}`)) ? url : null;
  };
  const notReady = async (why: string) => {
    await followed.stop(1000);
    const printed = logPath ? readLog(logPath) : followed.output();
    const tail = printed.trimEnd().split('\n').slice(-15).join('\n') || '(nothing printed)';
    const where = logPath ? ` (log: ${logPath})` : '';
    return new ReceiverNotReady(`${options.name ?? script} ${why}${where}:\n${tail}`, printed);
  };

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (options.signal?.aborted) {
      await followed.stop(1000);
      throw options.signal.reason;
    }
    const url = await readyUrl();
    if (url) return { ...followed, url };
    if (!followed.isRunning()) {
      throw await notReady(`exited with ${child.exitCode ?? child.signalCode} before it was ready`);
    }
    if (Date.now() > deadline) throw await notReady(`was not ready within ${timeoutMs / 1000} s`);
    await sleep(ready === 'listening' ? 5 : 100);
  }
}

/** All of a ReceiverProcess but its URL: its output, its log lines, its exit. */
function follow(child: ChildProcess, logPath: string | null): Omit<ReceiverProcess, 'url'> {
  const output = captureOutput(child);
  const logLines: LogLine[] = [];
  if (child.stdout) eachLine(child.stdout, (line) => logLines.push(parseLogLine(line)));
  let closed = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      closed = true;
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid ?? -1,
    logPath,
    logLines,
    stderr: output.stderr,
    output: output.all,
    exited,
    isRunning: () => child.exitCode === null && child.signalCode === null,
    async waitForLog(msg) {
      for (;;) {
        const found = logLines.find((line) => line.msg === msg);
        if (found) return found;
        if (closed) throw new Error(`exited before logging "${msg}"`);
        await sleep(5);
      }
    },
    stop: (graceMs = 30_000) => stopChild(child, exited, graceMs),
  };
}

export interface FinishedRun {
  code: number | null;
  /** stdout and stderr as they came. */
  output: string;
  stdout: string;
  stderr: string;
}

/** Runs `src/main.ts` to its exit (for start-up refusals) and returns its exit code and output. */
export async function runReceiverToExit(env: Record<string, string>): Promise<FinishedRun> {
  const child = spawnScript('src/main.ts', { PORT: '0', HOST: '127.0.0.1', ...env });
  const output = captureOutput(child);
  // A receiver that starts instead of refusing must not outlive the test that expected a refusal.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(guard);
  return { code, output: output.all(), stdout: output.stdout(), stderr: output.stderr() };
}

interface SpawnOptions {
  nodeArgs?: string[] | undefined;
  cpu?: number | undefined;
  /** Where stdout and stderr go; piped when null. */
  logPath?: string | null;
}

function spawnScript(script: string, env: Record<string, string>, options: SpawnOptions = {}) {
  const [command, ...args] = nodeCommand(script, options.nodeArgs, options.cpu);
  const log = options.logPath ? openSync(options.logPath, 'w') : null;
  try {
    return spawn(command, args, {
      cwd: repositoryRoot,
      env: {
        PATH: process.env.PATH ?? '',
        ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
        ...env,
      },
      stdio: log === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', log, log],
    });
  } finally {
    if (log !== null) closeSync(log);
  }
}

/** What a piped child prints, kept as text (empty when its output goes to a file). */
function captureOutput(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    all += text;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    all += text;
  });
  return { stdout: () => stdout, stderr: () => stderr, all: () => all };
}

function eachLine(stream: Readable, onLine: (line: string) => void) {
  let buffered = '';
  stream.on('data', (text: string) => {
    buffered += text;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

/** A stdout line that is not JSON escaped the logger: it fails loudly (uncaught) rather than hide. */
function parseLogLine(line: string): LogLine {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    throw new Error(`not a JSON log line on stdout: ${line}`);
  }
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

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs: number) {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '(no log)';
  }
}
