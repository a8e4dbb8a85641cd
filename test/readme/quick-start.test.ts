/**
 * The README's quick start, run as written: a real receiver started with `npm start` and the
 * README's environment (only the port, the listen address and the SQLite file are swapped for a
 * free port, 127.0.0.1 and a temporary file), then every command of the walk-through in bash with
 * the real curl, each answer compared as JSON with the `# …` line shown under it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { isAssignment, isComplete, sectionOf, shellBlocks, startLineEnv, stepsOf } from './walkthrough.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
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
  let receiver: { child: ChildProcess; url: string; exited: Promise<unknown>; output: () => string };
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
    receiver = await startWithNpm({
      ...env,
      PORT: '0',
      HOST: '127.0.0.1',
      SQLITE_PATH: join(dataDir.path, 'cohorts.db'),
    });
  });

  afterAll(async () => {
    if (receiver?.child.pid !== undefined && receiver.child.exitCode === null) {
      process.kill(-receiver.child.pid, 'SIGTERM');
      await receiver.exited;
    }
    await dataDir?.remove();
    await workDir?.remove();
  });

  it('starts the way it says: npm ci, then npm start with auth on', () => {
    expect(serverSteps.map((step) => step.command)[0]).toBe('npm ci');
    expect(token, 'the quick start must run with AUTH_TOKENS set').not.toBe('');
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

  it('answers every command as shown', async () => {
    expect(existsSync(curl)).toBe(true);
    const variables: string[] = [];
    for (const step of clientSteps) {
      if (isAssignment(step.command)) {
        variables.push(step.command);
        continue;
      }
      // Apply is asynchronous by design: a reader typing the next command gives the worker
      // milliseconds it needs; the test waits for the queue to be empty instead.
      await queueEmpty(receiver.url, token);
      const command = step.command.replaceAll(readmeAddress, receiver.url.replace(/^http:\/\//, ''));
      const { stdout } = await run('bash', ['-c', [...variables, command].join('\n')], {
        cwd: workDir.path,
        env: { PATH: '/usr/bin:/bin', HOME: workDir.path },
      });
      expect(JSON.parse(stdout), `${step.command}\n# got ${stdout}`).toEqual(JSON.parse(step.answer ?? ''));
    }
  });
});

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
  const url = await new Promise<string>((resolve, reject) => {
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
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'listening') resolve(`http://127.0.0.1:${entry.port}`);
      }
    });
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before listening:\n${output}`)));
  });
  return { child, url, exited, output: () => output };
}

/** Resolves once no batch waits or is being applied, as `/metrics` reports it. */
async function queueEmpty(url: string, token: string) {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    if (/^cohort_receiver_queue_batches 0$/m.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the queue did not empty');
}
