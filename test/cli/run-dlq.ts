/** @module Runs `src/cli/dlq.ts` as an operator does: a child process with its own environment. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface DlqRun {
  code: number | null;
  stdout: string;
  /** Standard output unchanged (what `download` without --out writes). */
  stdoutBytes: Buffer;
  stderr: string;
}

export function runDlqCli(argv: string[], env: Record<string, string>): Promise<DlqRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/dlq.ts', ...argv], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.once('close', (code) => {
      const bytes = Buffer.concat(stdout);
      resolve({ code, stdout: bytes.toString(), stdoutBytes: bytes, stderr });
    }),
  );
}
