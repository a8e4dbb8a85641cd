/**
 * @module `npm run bench -- --scale N`: the scale run (run-scale.ts). Prints its progress and a
 * summary with the targets of docs/performance-journal.md#scale-run; `--json FILE` writes the result.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { pinThisProcess } from '../machine.ts';
import { asksForHelp } from '../options.ts';
import { type UserIdStyle, userIdStyles } from '../user-ids.ts';
import { runScale, type ScaleResult } from './run-scale.ts';

export const scaleUsage = `Usage: npm run bench -- --scale N [options]
  --scale N            memberships to fill the store with, through the webhook (e.g. 10000000)
  --ids STYLE          ${userIdStyles.join(' | ')} (default uuid: random order)
  --store STORE        sqlite | postgres (default sqlite)
  --database-url URL   for --store postgres (default postgres://127.0.0.1:5432/test)
  --batch-users N      users per batch (default 1000)
  --in-flight N        requests in flight (default 4)
  --cohorts N          cohorts the batches rotate through (default 1)
  --bare GROUPS        batches per transaction of the bare loops to compare, comma-separated
                       (default 1,20; "none" for none; SQLite only)
  --env K=V            extra receiver environment, repeatable
  --no-pin             run the receiver unpinned (default: CPU 0, the load on the others)
  --cpu-prof DIR       write the receiver's CPU profile there
  --json FILE          write the result as JSON
  -h, --help           this text`;

export async function runScaleCli(argv: string[]): Promise<number> {
  if (asksForHelp(argv)) {
    console.log(scaleUsage);
    return 0;
  }
  const values = readScaleArgs(argv);
  if (values === undefined) return 2;
  const memberships = Number(values.scale);
  const ids = values.ids as UserIdStyle;
  const store = values.store as 'sqlite' | 'postgres';
  if (
    !Number.isInteger(memberships) ||
    memberships < 1000 ||
    !userIdStyles.includes(ids) ||
    !['sqlite', 'postgres'].includes(store)
  ) {
    console.error(scaleUsage);
    return 2;
  }
  const pin = !values['no-pin'] && availableParallelism() > 1;
  if (pin) pinThisProcess(`1-${availableParallelism() - 1}`);
  const result = await runScale({
    memberships,
    ids,
    store,
    databaseUrl: values['database-url'],
    batchUsers: Number(values['batch-users']),
    inFlight: Number(values['in-flight']),
    cohorts: Number(values.cohorts),
    bareGroups: store === 'sqlite' && values.bare !== 'none' ? values.bare.split(',').map(Number) : [],
    serverCpu: pin ? 0 : null,
    env: Object.fromEntries(
      values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
    cpuProfDir: values['cpu-prof'],
    log: (line) => console.log(line),
  });
  console.log(summarise(result));
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  }
  return 0;
}

/** The options, or undefined after printing what is wrong with them. */
function readScaleArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      options: {
        scale: { type: 'string' },
        ids: { type: 'string', default: 'uuid' },
        store: { type: 'string', default: 'sqlite' },
        'database-url': { type: 'string', default: 'postgres://127.0.0.1:5432/test' },
        'batch-users': { type: 'string', default: '1000' },
        'in-flight': { type: 'string', default: '4' },
        cohorts: { type: 'string', default: '1' },
        bare: { type: 'string', default: '1,20' },
        env: { type: 'string', multiple: true, default: [] },
        'no-pin': { type: 'boolean', default: false },
        json: { type: 'string' },
        'cpu-prof': { type: 'string' },
      },
    }).values;
  } catch (error) {
    // parseArgs words its errors well ("Unknown option '--x'"); print them with the usage.
    console.error(`${(error as Error).message}\n\n${scaleUsage}`);
    return undefined;
  }
}

/** The figures the targets are about, as ratios within this run. */
export function summarise(result: ScaleResult): string {
  const { tenths } = result.fill;
  const last = tenths.at(-1) ?? 0;
  const first = tenths[0] ?? 0;
  const bestBare = Math.max(0, ...result.bare.map((bare) => bare.tenths.at(-1) ?? 0));
  const lines = [
    `apply, last tenth of the fill: ${last.toLocaleString('en')} users/s (first tenth ${first.toLocaleString('en')}; ratio ${(last / first).toFixed(2)})`,
    `whole fill: ${result.fill.usersPerSecond.toLocaleString('en')} users/s in ${result.fill.seconds} s; 503s retried: ${result.fill.retried503}`,
    `churn at full size: ${result.churn.usersPerSecond.toLocaleString('en')} users/s`,
    `read API: user's cohorts p50 ${result.reads.userCohorts.p50Ms} ms, p99 ${result.reads.userCohorts.p99Ms} ms; 500-member page p50 ${result.reads.membersPage.p50Ms} ms, p99 ${result.reads.membersPage.p99Ms} ms`,
    `RSS ${(result.rssBytes / 2 ** 20).toFixed(0)} MiB; ${result.bytesPerMembership ?? '-'} bytes per membership on disk`,
  ];
  if (bestBare > 0) {
    lines.push(
      `best bare loop, last tenth: ${bestBare.toLocaleString('en')} users/s; receiver / bare = ${(last / bestBare).toFixed(2)}`,
    );
  }
  return lines.join('\n');
}
