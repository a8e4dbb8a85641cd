/**
 * @module The storage-engine comparison: the same first sync (random UUID user ids), applied by a
 * bare loop per candidate engine, each in a fresh child process, one after the other.
 *
 *   npx tsx bench/engines/cli.ts --engines sqlite,lmdb,level --users 300000 --dir /tmp/engines
 *
 * Prints per engine: users/s over each tenth of the fill and over the whole fill, bytes per member
 * on disk, bytes written per member, peak RSS, CPU use, and whether the member count is right.
 * With --verify it also runs the in-memory reference (decideBatch over a Map) and adds a replay and
 * conflict phase, then compares every engine's count and sampled registers with the reference and
 * with an independent model (workload.ts). See bench/engines/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { Register } from '../../src/core/store/register.ts';
import { describeMachine } from '../machine.ts';
import type { ChildPlan, ChildResult, PhaseResult } from './child.ts';
import { groupOption, parseEngineSpec } from './engine.ts';
import { expectedState, type PhaseName, phaseNames, planWorkload, type WorkloadOptions } from './workload.ts';

const usage = `Usage: npx tsx bench/engines/cli.ts [options]
  --engines LIST     comma-separated engine specs, name[:option[=value]]… (default sqlite,lmdb,level)
                     names: memory, sqlite, lmdb, level, rocksdb; options: see each module and README.md
                     e.g. sqlite:page=4096:cache=1g:group=100  lmdb:encoding=binary:txn=puts
  --users N          users in the first sync (default 300000)
  --batch N          users per batch (default 1000)
  --group N          batches per commit (default 20, as the SQLite store; group=N per engine overrides)
  --properties N     user_properties per user (default 3)
  --churn N          extra batches of existing users after the fill, every other one a removal (default 0)
  --seed N           draws the churn's users (default 1); the ids themselves are fixed per user number
  --verify           add the in-memory reference run, a replay and a conflict phase, and check every
                     engine's counts and sampled registers against the reference and the model
  --sample N         random users whose registers are compared (default 2000)
  --dir DIR          where the engines' files go, one folder each (default /tmp/engines-bench)
  --keep             keep the engines' files (default: each is deleted after its run)
  --cpus LIST        run each child under taskset -c LIST (default: unpinned)
  --max-old-space MB the children's V8 heap limit (default 4096)
  --json FILE        also write every result as JSON`;

interface Options {
  engines: string[];
  workload: WorkloadOptions;
  group: number;
  sampleSize: number;
  dir: string;
  keep: boolean;
  cpus: string | undefined;
  maxOldSpace: number;
  json: string | undefined;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      engines: { type: 'string', default: 'sqlite,lmdb,level' },
      users: { type: 'string', default: '300000' },
      batch: { type: 'string', default: '1000' },
      group: { type: 'string', default: '20' },
      properties: { type: 'string', default: '3' },
      churn: { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      verify: { type: 'boolean', default: false },
      sample: { type: 'string', default: '2000' },
      dir: { type: 'string', default: '/tmp/engines-bench' },
      keep: { type: 'boolean', default: false },
      cpus: { type: 'string' },
      'max-old-space': { type: 'string', default: '4096' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const integer = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${text}"`);
    return value;
  };
  const engines = values.engines
    .split(',')
    .map((spec) => spec.trim())
    .filter(Boolean);
  if (values.verify && !engines.some((spec) => spec.split(':')[0] === 'memory')) engines.unshift('memory');
  for (const spec of engines) parseEngineSpec(spec); // fail before any run
  return {
    engines,
    workload: {
      users: integer('users', values.users, 1),
      batchUsers: integer('batch', values.batch, 1),
      properties: integer('properties', values.properties, 0),
      churn: integer('churn', values.churn, 0),
      verify: values.verify,
      seed: integer('seed', values.seed, 0),
    },
    group: integer('group', values.group, 1),
    sampleSize: integer('sample', values.sample, 0),
    dir: values.dir,
    keep: values.keep,
    cpus: values.cpus,
    maxOldSpace: integer('max-old-space', values['max-old-space'], 256),
    json: values.json,
  };
}

const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Runs one engine's child; resolves with its result, or an error message. */
function runEngine(plan: ChildPlan, options: Options): Promise<ChildResult | { error: string }> {
  const node = [
    process.execPath,
    `--max-old-space-size=${options.maxOldSpace}`,
    '--import',
    'tsx',
    childScript,
    JSON.stringify(plan),
  ];
  const command = options.cpus === undefined ? node : ['taskset', '-c', options.cpus, ...node];
  return new Promise((resolve) => {
    const child = spawn(command[0] as string, command.slice(1), {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', (error) => resolve({ error: error.message }));
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as ChildResult);
      else resolve({ error: `exited with ${signal ?? code}` });
    });
  });
}

const thousands = (value: number) => `${Math.round(value / 1000)}k`;
const mib = (kib: number) => `${Math.round(kib / 1024)}`;

function printTable(results: ChildResult[], users: number) {
  const rows = results.map((result) => {
    const fill = result.phases.fill as PhaseResult;
    const churn = result.phases.churn;
    return [
      result.label,
      String(result.group),
      thousands(fill.usersPerSecond),
      (fill.tenths ?? []).map((rate) => Math.round(rate / 1000)).join(' '),
      churn === undefined ? '-' : thousands(churn.usersPerSecond),
      String(Math.round(result.bytesAfterClose / users)),
      String(Math.round(result.writeBytes / users)),
      `${mib(result.memory.peakKiB)} (${mib(result.memory.baselineKiB)})`,
      `${mib(result.memory.anonKiB)}/${mib(result.memory.fileKiB)}`,
      fill.cpuPerWall.toFixed(2),
      String(fill.maxGroupMs),
      result.closeSeconds.toFixed(2),
      result.reopenSeconds.toFixed(2),
    ];
  });
  const header = [
    'engine',
    'group',
    'fill/s',
    'fill/s by tenth (k)',
    'churn/s',
    'B/member',
    'written/member',
    'peak RSS MiB (at open)',
    'anon/file MiB',
    'cpu/wall',
    'max group ms',
    'close s',
    'reopen s',
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

type Sample = [user: number, register: Register | null][];

function readSamples(file: string): Sample {
  return JSON.parse(readFileSync(file, 'utf8')) as Sample;
}

/** Checks a run's counts against the model and its samples against the model and the reference. */
function check(
  result: ChildResult,
  samples: Sample,
  expected: ReturnType<typeof expectedState>,
  reference: Map<number, Register | null> | undefined,
): string[] {
  const problems: string[] = [];
  for (const phase of phaseNames) {
    const got = result.phases[phase]?.members;
    const want = expected.counts[phase];
    if (got !== undefined && got !== want) problems.push(`${phase}: ${got} members, expected ${want}`);
  }
  const last = Object.values(expected.counts).at(-1);
  if (result.membersAfterReopen !== last)
    problems.push(`after reopen: ${result.membersAfterReopen} members, expected ${last}`);
  let modelMismatches = 0;
  let referenceMismatches = 0;
  for (const [user, register] of samples) {
    const want = expected.registerOf(user) ?? null;
    if (!isDeepStrictEqual(register, want)) {
      if (modelMismatches++ < 3)
        problems.push(`user ${user}: ${JSON.stringify(register)}, model says ${JSON.stringify(want)}`);
    }
    if (reference !== undefined && !isDeepStrictEqual(register, reference.get(user) ?? null))
      referenceMismatches++;
  }
  if (modelMismatches > 0)
    problems.push(`${modelMismatches} of ${samples.length} sampled registers differ from the model`);
  if (referenceMismatches > 0)
    problems.push(`${referenceMismatches} of ${samples.length} sampled registers differ from the reference`);
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options === undefined) {
    console.log(usage);
    return 0;
  }
  const { workload } = options;
  const machine = describeMachine();
  console.log(
    `${workload.users} users in batches of ${workload.batchUsers}, ${workload.properties} properties, churn ${workload.churn} batches${workload.verify ? ', verify' : ''}; ` +
      `${machine.cpus} × ${machine.cpuModel}, load ${machine.loadAverage}, node ${machine.node}`,
  );
  mkdirSync(options.dir, { recursive: true });
  const plans = planWorkload(workload);
  const expected = expectedState(plans, workload.users, workload.properties);
  console.log(
    `expected members: ${phaseNames
      .filter((phase) => phase in expected.counts)
      .map((phase) => `${phase} ${expected.counts[phase]}`)
      .join(', ')}`,
  );

  const results: ChildResult[] = [];
  const failures: string[] = [];
  let reference: Map<number, Register | null> | undefined;
  for (const [index, label] of options.engines.entries()) {
    const spec = parseEngineSpec(label);
    const folder = `${index}-${label.replace(/[^A-Za-z0-9=.-]+/g, '_')}`;
    const dir = join(options.dir, folder);
    rmSync(dir, { recursive: true, force: true });
    const plan: ChildPlan = {
      spec,
      dir,
      workload,
      group: groupOption(spec, options.group),
      sampleSize: options.sampleSize,
      samplesFile: join(options.dir, `${folder}.samples.json`),
    };
    const started = performance.now();
    const result = await runEngine(plan, options);
    const wall = (performance.now() - started) / 1000;
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    if ('error' in result) {
      failures.push(`${label}: ${result.error}`);
      console.log(`${label}: FAILED (${result.error})`);
      continue;
    }
    const samples = readSamples(plan.samplesFile);
    if (!options.keep) rmSync(plan.samplesFile, { force: true });
    if (spec.name === 'memory') reference = new Map(samples);
    const problems = check(result, samples, expected, spec.name === 'memory' ? undefined : reference);
    results.push(result);
    console.log(
      `${label}: ${result.engine}; fill ${result.phases.fill?.usersPerSecond} users/s; child ${wall.toFixed(1)} s; ` +
        `${
          problems.length === 0
            ? `counts ${Object.entries(result.phases)
                .map(([phase, p]) => `${phase} ${p.members}`)
                .join(', ')} and ${samples.length} registers OK`
            : 'WRONG'
        }`,
    );
    for (const problem of problems) console.log(`  ${problem}`);
    if (problems.length > 0) failures.push(`${label}: ${problems.length} problem(s)`);
    if (Object.keys(result.details).length > 0) console.log(`  ${JSON.stringify(result.details)}`);
  }

  console.log('');
  printTable(results, workload.users);
  if (workload.churn > 0 || workload.verify) {
    const phases: PhaseName[] = ['churn', 'replay', 'conflict'];
    for (const result of results) {
      const counts = phases
        .filter((phase) => result.phases[phase])
        .map((phase) => `${phase} ${result.phases[phase]?.usersPerSecond} users/s`);
      if (counts.length > 0) console.log(`${result.label}: ${counts.join(', ')}`);
    }
  }
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ machine, workload, group: options.group, results, failures }, null, 2)}\n`,
    );
  }
  if (failures.length > 0) {
    console.log(`\n${failures.length} engine(s) failed or were wrong:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
