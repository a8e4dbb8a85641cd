/**
 * The README's quick start, run as written: a real receiver started with `npm start` and the
 * README's environment (only the port and the SQLite file are swapped for a free port and a
 * temporary file), then the second shell's block pasted into one bash as a reader would, right
 * after the receiver says it listens and with no pause between commands, with the real curl; each
 * line it prints compared as JSON with the `# …` answer the README shows under its command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { isAssignment, isComplete, sectionOf, shellBlocks, startLineEnv, stepsOf } from './walkthrough.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const curl = '/usr/bin/curl';
/** The address the README's commands use; the test points them at its own receiver instead. */
const readmeAddress = 'localhost:8080';

const section = sectionOf(readFileSync(join(root, 'README.md'), 'utf8'), 'Quick start');
const [serverBlock = '', clientBlock = ''] = shellBlocks(section);

describe('reading a walk-through', () => {
  it('keeps a quoted value over several lines as one command, with the answer under it', () => {
    const steps = stepsOf(
      ['A=\'{"x":', "  1}'", 'curl -s "$A"', '# {"a":', '#  [1]}', '', '# note'].join('\n'),
    );
    expect(steps).toEqual([
      { command: 'A=\'{"x":\n  1}\'', answer: undefined, line: 1 },
      { command: 'curl -s "$A"', answer: '{"a":\n [1]}', line: 3 },
    ]);
  });

  it('tells complete commands from open quotes and continuations', () => {
    expect(isComplete(`echo 'it''s' "a \\" b"`)).toBe(true);
    expect(isComplete(`echo 'open`)).toBe(false);
    expect(isComplete('echo a \\')).toBe(false);
  });

  it('reads the environment of a start line, and only of a plain one', () => {
    expect(startLineEnv('AUTH_TOKENS=s3cret QUEUE=sqlite npm start')).toEqual({
      AUTH_TOKENS: 's3cret',
      QUEUE: 'sqlite',
    });
    expect(startLineEnv('npm start')).toEqual({});
    expect(startLineEnv('AUTH_TOKENS=$(openssl rand -hex 32) npm start')).toBeUndefined();
    expect(startLineEnv('npm start && rm -rf data')).toBeUndefined();
  });
});

describe('the README quick start', () => {
  const serverSteps = stepsOf(serverBlock);
  const clientSteps = stepsOf(clientBlock);
  let receiver: {
    child: ChildProcess;
    url: string;
    host: string;
    exited: Promise<unknown>;
    output: () => string;
  };
  let dataDir: TempDir;
  let workDir: TempDir;
  let token: string;

  beforeAll(async () => {
    const startSteps = serverSteps.filter((step) => step.command !== 'npm ci');
    // Any other line would be a step the reader takes and the test does not.
    expect(startSteps.map((step) => step.command)).toHaveLength(1);
    const env = startLineEnv(startSteps[0]?.command ?? '');
    expect(env, `not a plain "VAR=value npm start" line: ${startSteps[0]?.command}`).toBeDefined();
    token = (env?.AUTH_TOKENS ?? '').split(',')[0] ?? '';
    dataDir = await createTempDir('readme');
    workDir = await createTempDir('readme-shell');
    receiver = await startWithNpm({ ...env, PORT: '0', SQLITE_PATH: join(dataDir.path, 'cohorts.db') });
  });

  afterAll(async () => {
    if (receiver?.child.pid !== undefined && receiver.child.exitCode === null) {
      process.kill(-receiver.child.pid, 'SIGTERM');
      await receiver.exited;
    }
    await dataDir?.remove();
    await workDir?.remove();
  });

  it('starts the way it says: npm ci, then npm start with auth on, on 127.0.0.1 only', () => {
    expect(serverSteps.map((step) => step.command)[0]).toBe('npm ci');
    expect(token, 'the quick start must run with AUTH_TOKENS set').not.toBe('');
    // The demo secret keeps the receiver to this machine, as the README says.
    expect(receiver.host).toBe('127.0.0.1');
  });

  it('shows an answer under every curl, and only curl and variables in the second shell', () => {
    expect(clientSteps.filter((step) => step.command.startsWith('curl ')).length).toBeGreaterThanOrEqual(4);
    for (const step of clientSteps) {
      if (isAssignment(step.command)) continue;
      expect(step.command, `line ${step.line}`).toMatch(/^curl /);
      expect(step.command, `line ${step.line}`).toContain(readmeAddress);
      expect(step.answer, `no "# {…}" answer under line ${step.line}`).toBeDefined();
    }
  });

  it('prints what it shows when pasted into one shell as a whole, right after the start', async () => {
    expect(existsSync(curl)).toBe(true);
    const pasted = clientBlock.replaceAll(readmeAddress, receiver.url.replace(/^http:\/\//, ''));
    const { stdout, stderr } = await pasteIntoBash(pasted, workDir.path);
    expect(stderr).toBe('');
    const printed = stdout.replace(/\n$/, '').split('\n');
    const shown = clientSteps.filter((step) => step.answer !== undefined);
    // One line per command: answers run together would not read as the README shows them.
    expect(printed, stdout).toHaveLength(shown.length);
    shown.forEach((step, index) => {
      const line = printed[index] ?? '';
      expect(JSON.parse(line), `${step.command}\n# got ${line}`).toEqual(JSON.parse(step.answer ?? ''));
    });
  });
});

/** `script` on bash's standard input, as a paste into a terminal gives it: one shell, no pauses. */
async function pasteIntoBash(script: string, cwd: string) {
  const shell = spawn('bash', ['-s'], { cwd, env: { PATH: '/usr/bin:/bin', HOME: cwd } });
  let stdout = '';
  let stderr = '';
  shell.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => shell.once('close', resolve));
  shell.stdin.end(script);
  expect(await closed).toBe(0);
  return { stdout, stderr };
}

/** `npm start` in its own process group (so the test can stop npm and node together). */
async function startWithNpm(env: Record<string, string>) {
  const child = spawn('npm', ['start'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? root, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const listening = await new Promise<{ url: string; host: string }>((resolve, reject) => {
    let buffered = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        // npm prints its own banner before the receiver's JSON lines.
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; port?: number; host?: string };
        if (entry.msg === 'listening')
          resolve({ url: `http://127.0.0.1:${entry.port}`, host: entry.host ?? '' });
      }
    });
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before listening:\n${output}`)));
  });
  return { child, ...listening, exited, output: () => output };
}
