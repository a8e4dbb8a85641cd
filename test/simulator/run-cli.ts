/** @module Runs `simulator/cli.ts` in a child process, as `npm run simulate` does. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** The exit code and everything printed. */
export function simulate(args: string[]): Promise<CliOutcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'simulator/cli.ts', ...args],
      { cwd: root },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A run of a few dozen messages with a short settle, for CLI tests. */
export const small = [
  ...['--cohorts', '2', '--users', '60', '--steps', '4', '--batch-size', '10'],
  ...['--settle-ms', '300', '--backoff-ms', '20'],
];
