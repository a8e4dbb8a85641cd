/** Starts `src/main.ts` in a child process, as `npm start` does, and reads its JSON log lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface SpawnedReceiver {
  child: ChildProcess;
  url: string;
  logLines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first log line (already written or to come) whose msg is `msg`. */
  waitForLog: (msg: string) => Promise<Record<string, unknown>>;
}

/** Resolves once the receiver logged "listening"; rejects with its stderr if it exits first. */
export function spawnReceiver(env: Record<string, string>): Promise<SpawnedReceiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const waitForLog = async (msg: string) => {
    for (;;) {
      const found = logLines.find((line) => line.msg === msg);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`exited before logging "${msg}"`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logLines.push(entry);
        if (entry.msg === 'listening') {
          resolve({
            child,
            url: `http://127.0.0.1:${entry.port}`,
            logLines,
            stderr: () => stderr,
            exited,
            waitForLog,
          });
        }
      }
    });
    void exited.then((code) =>
      reject(new Error(`receiver exited with ${code} before listening:\n${stderr}`)),
    );
  });
}

/** Runs main.ts to completion (for start-up failures) and returns its exit code and output. */
export async function runReceiverToExit(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  // A receiver that starts instead of refusing must not outlive the test that expected a refusal.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(guard);
  return { code, output, stdout, stderr };
}
