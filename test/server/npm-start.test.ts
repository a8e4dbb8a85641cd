/**
 * `npm start` as a process manager runs it: SIGTERM goes to the PID it started, npm's. That must
 * stop the receiver — drained, like a SIGTERM to node itself — and leave no process behind (with a
 * shell and tsx between npm and node, the signal stopped at the shell and node kept serving). What
 * it runs is the compiled receiver, plain Node on dist/, as the image runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string | undefined;
let npm: ChildProcess | undefined;
afterEach(async () => {
  // Whatever the test found, nothing of the group outlives it.
  if (npm?.pid !== undefined && groupAlive(npm.pid)) process.kill(-npm.pid, 'SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `npm start` in its own process group, so every process it starts can be found afterwards. */
async function startNpm() {
  dir = await mkdtemp(join(tmpdir(), 'cohort-npm-start-'));
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      npm_config_update_notifier: 'false',
      PORT: '0',
      SQLITE_PATH: join(dir, 'cohorts.db'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npm = child;
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close': every pipe closed, so no process of the tree still holds npm's stdout.
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop() ?? '';
      for (const line of complete.filter((text) => text.startsWith('{'))) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'listening') resolve(entry.port as number);
      }
    });
    void closed.then((code) => reject(new Error(`npm start exited with ${code}:\n${stderr}`)));
  });
  return { pid: child.pid as number, lines, closed, healthz: `http://127.0.0.1:${port}/healthz` };
}

/** The command lines of the processes of group `pgid` (Linux /proc), each as its arguments. */
function groupCommands(pgid: number): string[][] {
  const commands: string[][] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue;
      commands.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      // Exited while being read.
    }
  }
  return commands;
}

/** Polled without a deadline of its own: a process left serving fails the test by its timeout. */
async function groupExited(pgid: number) {
  while (groupAlive(pgid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('npm start', () => {
  it('stops the receiver, drained, and every process under npm, on SIGTERM to npm’s PID', async () => {
    const started = await startNpm();
    expect((await fetch(started.healthz)).status).toBe(200);
    // What runs is the compiled receiver, as in the image: plain Node on dist/, no tsx loader.
    const commands = groupCommands(started.pid);
    expect(commands.filter((args) => args.includes('dist/main.js'))).toEqual([['node', 'dist/main.js']]);
    expect(commands.flat().filter((arg) => arg.includes('tsx'))).toEqual([]);

    process.kill(started.pid, 'SIGTERM');
    expect(await started.closed).toBe(0);
    await groupExited(started.pid);
    expect(started.lines.some((line) => line.msg === 'signal received' && line.signal === 'SIGTERM')).toBe(
      true,
    );
    expect(started.lines.find((line) => line.msg === 'stopped')?.drained).toBe(true);
    await expect(fetch(started.healthz)).rejects.toThrow();
  }, 30_000);

  it('drains on Ctrl-C, which reaches node twice: from the terminal and passed on by npm', async () => {
    const started = await startNpm();
    // A terminal sends SIGINT to its whole foreground process group.
    process.kill(-started.pid, 'SIGINT');
    expect(await started.closed).toBe(0);
    await groupExited(started.pid);
    expect(started.lines.some((line) => line.msg === 'second signal: exiting now')).toBe(false);
    expect(started.lines.find((line) => line.msg === 'stopped')?.drained).toBe(true);
  }, 30_000);
});
