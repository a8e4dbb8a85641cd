/**
 * `npm run bench` with STORE=postgres drops the Postgres schema its receiver created, when the run
 * ends and when it is interrupted (SIGINT) mid-run, and keeps a schema that was there before.
 * Each test runs the real bench CLI briefly against the local Postgres.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import { databaseUrl, describeWithService, postgresConnection } from '../support/services.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** A short saturated run against the built-in receiver only: no floor, no chart, no pinning. */
const brief = [
  ...['--store', 'postgres', '--users', '5', '--connections', '1', '--rounds', '1', '--warmup', '0'],
  ...['--mode', 'saturate', '--no-baseline', '--no-pin', '--chart', '', '--quiet'],
];

interface BenchRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startBench(args: string[]): BenchRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited };
}

/** Pids of the built-in receivers (`dist/main.js`, as the bench runs them) descending from `pid` (Linux /proc). */
function receiversUnder(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Exited while being read.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('dist/main.js');
    } catch {
      return false;
    }
  });
}

/** Running, not a zombie waiting to be reaped. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

await describeWithService('postgres', 'npm run bench with STORE=postgres', () => {
  let admin: pg.Pool;
  const prefixes: string[] = [];
  const leftovers: number[] = [];
  const newPrefix = () => {
    const prefix = `test-bench-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    return prefix;
  };
  const schemaExists = async (prefix: string) =>
    (await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaNameFor(prefix)])).rowCount ===
    1;
  /** Users applied so far into the run's schema; 0 while it has no table yet. */
  const appliedUsers = async (prefix: string) => {
    try {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM "${schemaNameFor(prefix)}".memberships`,
      );
      return rows[0].n as number;
    } catch {
      return 0;
    }
  };
  /** Polls `check` until it holds or the bench exits; true when it held. */
  const whileRunning = async (run: BenchRun, check: () => Promise<boolean>) => {
    let exited = false;
    void run.exited.then(() => {
      exited = true;
    });
    while (!exited) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  };

  beforeAll(() => {
    admin = new pg.Pool({ ...postgresConnection(), max: 2 });
  });
  afterEach(async () => {
    // A bench that failed to clean up leaves its receiver running, and its schema.
    for (const pid of leftovers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const prefix of prefixes.splice(0)) {
      await admin.query(`DROP SCHEMA IF EXISTS "${schemaNameFor(prefix)}" CASCADE`);
    }
  });
  afterAll(async () => {
    await admin.end();
  });

  it('drops the schema its receiver created when the run ends', async () => {
    const prefix = newPrefix();
    const run = startBench([...brief, '--duration', '2', '--env', `KEY_PREFIX=${prefix}`]);
    const sawSchema = await whileRunning(run, () => schemaExists(prefix));
    const { code, stdout, stderr } = await run.exited;
    expect([0, 1], stderr).toContain(code);
    expect(sawSchema).toBe(true);
    // --quiet: stdout is the JSON result and nothing else.
    expect(JSON.parse(stdout).modes[0].target.ok).toBeGreaterThan(0);
    expect(await schemaExists(prefix)).toBe(false);
  }, 90_000);

  it('drops it too when interrupted with SIGINT mid-run, and leaves no server running', async () => {
    const prefix = newPrefix();
    const run = startBench([...brief, '--duration', '600', '--env', `KEY_PREFIX=${prefix}`]);
    // Mid-run: the load is flowing and the worker has applied some of it.
    const loaded = await whileRunning(run, async () => (await appliedUsers(prefix)) > 0);
    expect(loaded).toBe(true);
    const servers = receiversUnder(run.child.pid as number);
    leftovers.push(...servers);
    expect(servers).toHaveLength(1);
    run.child.kill('SIGINT');
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('interrupted');
    expect(await schemaExists(prefix)).toBe(false);
    expect(servers.filter(alive)).toEqual([]);
  }, 90_000);

  it('keeps a schema that existed before the run, and says so', async () => {
    const prefix = newPrefix();
    const schema = schemaNameFor(prefix);
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`CREATE TABLE "${schema}".kept (id int)`);
    const run = startBench([...brief, '--duration', '1', '--env', `KEY_PREFIX=${prefix}`]);
    const { code, stdout, stderr } = await run.exited;
    expect([0, 1], stderr).toContain(code);
    expect(JSON.parse(stdout).notes).toContain(
      `the Postgres schema of KEY_PREFIX ${prefix} existed before the run: kept`,
    );
    expect((await admin.query(`SELECT count(*) FROM "${schema}".kept`)).rowCount).toBe(1);
  }, 90_000);
});
