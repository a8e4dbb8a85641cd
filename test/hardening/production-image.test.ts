/**
 * The production image, checked the only honest way without a Docker engine: do what the
 * Dockerfile's stages do — build, then install production dependencies only (`npm ci --omit=dev`,
 * the better-sqlite3 native build included) in a fresh folder holding package.json,
 * package-lock.json and dist/ — and boot `node dist/main.js` there. A runtime import of a dev
 * dependency fails here. The Dockerfile itself is read for what the image promises: a pinned Node
 * 20 base, a non-root user, an exec-form CMD, and a HEALTHCHECK that is run, as written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const runtimeStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')));
/** The runtime stage's `ENV key=value …` settings: the environment the image's process starts with. */
const imageEnv: Record<string, string> = Object.fromEntries(
  runtimeStage
    .filter((line) => line.startsWith('ENV '))
    .flatMap((line) => line.slice(4).trim().split(/\s+/))
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const token = 'image-S3cret';

/** Runs a command to completion, killed after `killAfterMs` if given (a server that should have refused). */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
  killAfterMs?: number,
) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (killAfterMs !== undefined) {
      const guard = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      child.once('exit', () => clearTimeout(guard));
    }
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('the Dockerfile', () => {
  it('builds FROM a pinned Node 20 image in every stage', () => {
    const bases = instructions.filter((line) => line.startsWith('FROM '));
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) {
      // An exact version (node:20.x.y-variant), optionally with a digest: never `node:20` or `latest`.
      expect(base).toMatch(/^FROM node:20\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?( AS [a-z-]+)?$/i);
    }
  });

  it('runs as a non-root user, with production dependencies only, exec-form CMD, EXPOSE and HEALTHCHECK', () => {
    const users = runtimeStage.filter((line) => line.startsWith('USER '));
    expect(users.at(-1)).toMatch(/^USER (node|\d{4,})$/);
    expect(runtimeStage.findIndex((line) => line.startsWith('USER '))).toBeLessThan(
      runtimeStage.findIndex((line) => line.startsWith('CMD ')),
    );
    expect(dockerfile).toMatch(/npm prune --omit=dev|npm ci[^\n]*--omit=dev/);
    // The code is not the runtime user's to change; only the data folder is.
    for (const copy of runtimeStage.filter((line) => line.startsWith('COPY ')))
      expect(copy).not.toMatch(/--chown/);
    expect(runtimeStage).toContain('RUN mkdir -p /app/data && chown node:node /app/data');
    expect(runtimeStage).toContain('CMD ["node", "dist/main.js"]');
    expect(runtimeStage).toContain('EXPOSE 8080');
    expect(runtimeStage.some((line) => line.startsWith('HEALTHCHECK '))).toBe(true);
  });

  it('listens on every interface, so the published port answers', () => {
    expect(imageEnv).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0' });
  });
});

describe('the production install, booted', () => {
  let dir: TempDir;
  let receiver: ChildProcess | undefined;
  let url = '';
  let port = 0;
  const output: string[] = [];

  beforeAll(async () => {
    dir = await createTempDir('production-image');
    // `npm run build`, into the temporary folder rather than the shared dist/.
    const build = await run('npm', ['run', 'build', '--', '--outDir', join(dir.path, 'dist')], root);
    expect(build.code, build.output).toBe(0);
    await copyFile(join(root, 'package.json'), join(dir.path, 'package.json'));
    await copyFile(join(root, 'package-lock.json'), join(dir.path, 'package-lock.json'));
    // The npm cache (~/.npm) is reused; the better-sqlite3 native build takes about a minute.
    const install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], dir.path);
    expect(install.code, install.output).toBe(0);
  }, 900_000);

  afterAll(async () => {
    receiver?.kill('SIGKILL');
    await dir?.remove();
  });

  it('imports every module of dist/ with production dependencies only', async () => {
    // main.js starts the receiver when imported, and each CLI an npm script runs does its command;
    // every other module must import without side effects.
    const scripts = Object.values(
      (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
        .scripts,
    );
    const entries = new Set([
      'main.js',
      ...scripts.flatMap((script) =>
        [...script.matchAll(/src\/(cli\/[\w-]+)\.ts/g)].map((match) => `${match[1]}.js`),
      ),
    ]);
    expect(entries.has('cli/dlq.js')).toBe(true);
    const modules = (await readdir(join(dir.path, 'dist'), { recursive: true }))
      .filter((file) => file.endsWith('.js') && !entries.has(file))
      .map((file) => `./${relative(dir.path, join(dir.path, 'dist', file))}`);
    expect(modules.length).toBeGreaterThan(10);
    const script = `for (const m of ${JSON.stringify(modules)}) await import(m);`;
    const imported = await run(process.execPath, ['--input-type=module', '-e', script], dir.path);
    expect(imported.code, imported.output).toBe(0);
  });

  it('refuses to start without AUTH_TOKENS, in one plain line, unless AUTH_TOKENS=none asks for auth off', async () => {
    const refused = await run(
      process.execPath,
      ['dist/main.js'],
      dir.path,
      { PATH: process.env.PATH ?? '', ...imageEnv, PORT: '0' },
      20_000,
    );
    expect(refused.code).toBe(1);
    expect(refused.output).toBe(
      'invalid configuration: AUTH_TOKENS: required when HOST=0.0.0.0 is reachable from the network; set AUTH_TOKENS=none to run without auth anyway\n',
    );

    const open = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? '', ...imageEnv, PORT: '0', AUTH_TOKENS: 'none' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let logged = '';
    const exited = new Promise((resolve) => open.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      open.stdout.on('data', (chunk: Buffer) => {
        logged += chunk.toString();
        if (logged.includes('"msg":"listening"')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited with ${code}:\n${logged}`)));
    });
    open.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logged).toMatch(/"host":"0\.0\.0\.0".*"msg":"listening"/);
    expect(logged).toContain('AUTH IS OFF (AUTH_TOKENS=none) on HOST=0.0.0.0');
  });

  it('boots `node dist/main.js`, answers /healthz and accepts and applies a batch', async () => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? '', ...imageEnv, PORT: '0', AUTH_TOKENS: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    receiver = child;
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        output.push(chunk.toString());
        const listening = buffered.split('\n').find((line) => line.includes('"msg":"listening"'));
        if (listening) resolve((JSON.parse(listening) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
    });
    url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const body = JSON.stringify({
      cohort_name: 'Image',
      cohort_id: 'image',
      in_cohort: true,
      computed_time: '1700000000',
      message_id: 'image-1',
      users: [{ user_id: 'image-user', user_properties: { plan: 'pro' } }],
    });
    const auth = { authorization: `Bearer ${token}` };
    const answer = await fetch(`${url}/webhook`, { method: 'POST', headers: auth, body });
    expect(await answer.json()).toEqual({ status: 'accepted', message_id: 'image-1', users: 1 });
    let members: { user_id: string }[] = [];
    for (let attempt = 0; attempt < 100 && members.length === 0; attempt++) {
      members = (
        (await (await fetch(`${url}/cohorts/image/members`, { headers: auth })).json()) as {
          members: typeof members;
        }
      ).members;
      if (members.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(members.map((member) => member.user_id)).toEqual(['image-user']);
  });

  it("passes the Dockerfile's own HEALTHCHECK command, and fails it once stopped", async () => {
    const healthcheck = runtimeStage.find((line) => line.startsWith('HEALTHCHECK '));
    const command = JSON.parse(/ CMD (\[.*\])$/.exec(healthcheck ?? '')?.[1] ?? 'null') as string[] | null;
    expect(command?.[0]).toBe('node');
    const [executable = 'node', ...args] = command ?? [];
    const env = { PATH: process.env.PATH ?? '', PORT: String(port) };
    expect((await run(executable, args, dir.path, env)).code).toBe(0);

    receiver?.kill('SIGTERM');
    const code = await new Promise((resolve) => receiver?.once('exit', resolve));
    expect(code).toBe(0);
    expect((await run(executable, args, dir.path, env)).code).toBe(1);
  });
});
