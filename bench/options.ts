/** @module The bench's command line: every option, its default, and the checks that name a bad value. */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type PayloadShape, payloadShapeList, payloadShapeNamed } from '../simulator/payload-shapes.ts';
import { type UserIdStyle, userIdStyles } from './user-ids.ts';

export type { PayloadShape };

export const loadModes = ['saturate', 'paced', 'both'] as const;
export type LoadMode = (typeof loadModes)[number];

/**
 * The default paced rate: Amplitude's 4 parallel senders, each waiting ~200 ms for a round trip
 * across the internet, send about 20 requests/s (20,000 users/s at 1,000 users a body) — more
 * than any documented cadence needs, so a PASS here means room to spare.
 */
export const defaultRate = 20;

export interface BenchOptions {
  /** Any endpoint; when absent the bench starts the built-in receiver. */
  url: string | undefined;
  /** Up to five `Name: value` headers, as Amplitude allows. */
  headers: Record<string, string>;
  /** QUEUE, STORE and ROLE for the built-in receiver. @default memory, sqlite, all */
  queue: string;
  store: string;
  role: string;
  /** Extra environment for the built-in receiver (`--env KEY=VALUE`). */
  env: Record<string, string>;
  /** Users per body. @default 1000 */
  users: number;
  /** user_properties per user (Amplitude sends at most 50). @default 3 */
  properties: number;
  shape: PayloadShape;
  /** How user ids look (bench/user-ids.ts). @default uuid: random order, as customers' ids are */
  ids: UserIdStyle;
  /** Share of bodies that remove users (in_cohort false). @default 0.2 */
  removeRatio: number;
  /** @default 4 */
  cohorts: number;
  /** Share of requests that resend an earlier message_id, byte for byte. @default 0 */
  duplicateRate: number;
  /** Parallel connections (Amplitude sends 4 at once). @default 4 */
  connections: number;
  /** Seconds measured per round and per server. @default 5 */
  duration: number;
  /** Requests per round and per server; replaces `duration` when set. */
  requests: number | undefined;
  /** Seconds of unmeasured load before each measured run. @default 1 */
  warmup: number;
  /** Target/baseline pairs, alternated so machine drift cancels. @default 2 */
  rounds: number;
  /** @default both */
  mode: LoadMode;
  /** Paced (open-loop) arrival rate, requests/s. @default 20 */
  rate: number;
  /** The verdict's p99 budget, ms. @default 1000 */
  budgetP99Ms: number;
  /** A request slower than this is a timeout (Amplitude waits 1-2 s). @default 2000 */
  timeoutMs: number;
  /** Also measure apply lag and the sustained apply rate from the target's /metrics. */
  e2e: boolean;
  /** Where to read Prometheus metrics; defaults to the target's origin + /metrics. */
  metricsUrl: string | undefined;
  baseline: boolean;
  json: string | undefined;
  /** SVG chart of target vs baseline latency; empty string = none. @default bench/results/latency.svg */
  chart: string;
  /** Pin servers to CPU 0 and the load generator to CPU 1 (needs taskset and 2 CPUs). */
  pin: 'auto' | 'on' | 'off';
  seed: number;
  /** Seconds to wait for the target's queue to drain in e2e mode. @default 300 */
  drainTimeout: number;
  /** Print the result as JSON on stdout instead of the text report. */
  quiet: boolean;
  /** Built-in receiver: write a V8 CPU profile (`node --cpu-prof`) into this folder when it stops. */
  cpuProf: string | undefined;
}

const number = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().min(min).max(max);
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => number(min, max).int();

const optionsSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  queue: z.string().min(1).default('memory'),
  store: z.string().min(1).default('sqlite'),
  role: z.enum(['all', 'receiver']).default('all'),
  users: integer(1).default(1000),
  properties: integer(0, 50).default(3),
  shape: z
    .string()
    .default('default')
    .transform((name, context) => {
      const shape = payloadShapeNamed(name);
      if (shape === undefined) {
        context.addIssue({ code: 'custom', message: `expected one of ${payloadShapeList}, got '${name}'` });
        return z.NEVER;
      }
      return shape;
    }),
  ids: z.enum(userIdStyles).default('uuid'),
  removeRatio: number(0, 1).default(0.2),
  cohorts: integer(1).default(4),
  duplicateRate: number(0, 0.9).default(0),
  connections: integer(1, 1000).default(4),
  duration: number(0.1).default(5),
  requests: integer(1).optional(),
  warmup: number(0).default(1),
  rounds: integer(1).default(2),
  mode: z.enum(loadModes).default('both'),
  rate: number(0.1).default(defaultRate),
  budgetP99Ms: number(1).default(1000),
  // autocannon's timeout is whole seconds or more; Amplitude's window is 1-2 s anyway.
  timeoutMs: integer(1000).default(2000),
  metricsUrl: z.url({ protocol: /^https?$/ }).optional(),
  json: z.string().min(1).optional(),
  chart: z.string().default('bench/results/latency.svg'),
  pin: z.enum(['auto', 'on', 'off']).default('auto'),
  seed: integer(0, 2 ** 32 - 1).default(1),
  drainTimeout: number(1).default(300),
  cpuProf: z.string().min(1).optional(),
});

/**
 * True when `argv` asks for the usage (`--help` or `-h`) before any `--`. Checked before parsing,
 * so `--scale --help` prints the scale usage rather than taking `--help` for the missing N.
 */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** A bad command line; the message says which option and why, one per line. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

const argSpec = {
  url: { type: 'string' },
  header: { type: 'string', multiple: true },
  queue: { type: 'string' },
  store: { type: 'string' },
  role: { type: 'string' },
  env: { type: 'string', multiple: true },
  users: { type: 'string' },
  properties: { type: 'string' },
  shape: { type: 'string' },
  ids: { type: 'string' },
  'remove-ratio': { type: 'string' },
  cohorts: { type: 'string' },
  'duplicate-rate': { type: 'string' },
  connections: { type: 'string' },
  duration: { type: 'string' },
  requests: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  mode: { type: 'string' },
  rate: { type: 'string' },
  'budget-p99-ms': { type: 'string' },
  'timeout-ms': { type: 'string' },
  e2e: { type: 'boolean' },
  'metrics-url': { type: 'string' },
  'no-baseline': { type: 'boolean' },
  json: { type: 'string' },
  chart: { type: 'string' },
  pin: { type: 'string' },
  'no-pin': { type: 'boolean' },
  seed: { type: 'string' },
  'drain-timeout': { type: 'string' },
  quiet: { type: 'boolean' },
  'cpu-prof': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Returns the options, or `'help'` when `--help` was asked for. @throws BenchUsageError */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof argSpec; args: string[]; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: argSpec, strict: true, allowPositionals: false });
  } catch (error) {
    throw new BenchUsageError(`${(error as Error).message}\n\n${usage}`);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const result = optionsSchema.safeParse({
    url: values.url,
    queue: values.queue,
    store: values.store,
    role: values.role,
    users: values.users,
    properties: values.properties,
    shape: values.shape,
    ids: values.ids,
    removeRatio: values['remove-ratio'],
    cohorts: values.cohorts,
    duplicateRate: values['duplicate-rate'],
    connections: values.connections,
    duration: values.duration,
    requests: values.requests,
    warmup: values.warmup,
    rounds: values.rounds,
    mode: values.mode ?? (values.rate === undefined ? undefined : 'paced'),
    rate: values.rate,
    budgetP99Ms: values['budget-p99-ms'],
    timeoutMs: values['timeout-ms'],
    metricsUrl: values['metrics-url'],
    json: values.json,
    chart: values.chart,
    pin: values['no-pin'] ? 'off' : values.pin,
    seed: values.seed,
    drainTimeout: values['drain-timeout'],
    cpuProf: values['cpu-prof'],
  });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `--${kebab(String(issue.path[0]))}: ${issue.message}`);
    throw new BenchUsageError(lines.join('\n'));
  }
  return {
    ...result.data,
    url: result.data.url,
    requests: result.data.requests,
    metricsUrl: result.data.metricsUrl,
    json: result.data.json,
    cpuProf: result.data.cpuProf,
    headers: parseHeaders(values.header ?? []),
    env: parseEnv(values.env ?? []),
    e2e: values.e2e ?? false,
    baseline: !values['no-baseline'],
    quiet: values.quiet ?? false,
  };
}

/** Applies the defaults to a partial set of options (for the matrix and tests). */
export function benchOptions(overrides: Partial<BenchOptions> = {}): BenchOptions {
  const parsed = parseBenchArgs([]);
  if (parsed === 'help') throw new Error('unreachable');
  return { ...parsed, ...overrides };
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `Name: value` lines -> an object. Amplitude allows five custom headers, so the bench does too. */
export function parseHeaders(lines: string[]): Record<string, string> {
  if (lines.length > 5) {
    throw new BenchUsageError(`--header: at most 5 headers (Amplitude's limit), got ${lines.length}`);
  }
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    if (colon < 1 || !headerName.test(name)) {
      throw new BenchUsageError(`--header: expected 'Name: value', got '${line}'`);
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals < 1) throw new BenchUsageError(`--env: expected KEY=VALUE, got '${pair}'`);
    env[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return env;
}

/**
 * The command line as it can be recorded: header values and URL query strings (where secrets go)
 * replaced by "…", arguments quoted where a shell would need it.
 */
export function redactArgv(argv: string[]): string[] {
  return argv.map((argument, index) => {
    let shown = argument;
    if (argv[index - 1] === '--header') shown = argument.replace(/:.*$/, ': …');
    else if (argument.startsWith('--header=')) shown = argument.replace(/^(--header=[^:]*):.*$/, '$1: …');
    shown = shown.replace(/(https?:\/\/[^\s?]*)\?\S*/, '$1?…');
    return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, "'\\''")}'`;
  });
}

function kebab(name: string) {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

export const usage = `Usage: npm run bench -- [options]

Sends Amplitude-shaped cohort batches to a target and, in the same run, to a bare node:http
server that only parses JSON (the floor), alternating the two; prints percentiles, throughput,
ratios to the floor and a PASS/FAIL verdict.

Target
  --url URL              any endpoint (default: start the built-in receiver)
  --header 'Name: v'     a header to send, up to 5 (e.g. the shared secret)
  --queue Q --store S    built-in receiver's QUEUE / STORE (default memory / sqlite)
  --role all|receiver    built-in receiver's ROLE (receiver = ack path only)
  --env KEY=VALUE        more environment for the built-in receiver (repeatable)
Traffic
  --users N              users per body (default 1000)
  --properties N         user_properties per user, 0-50 (default 3)
  --shape S              ${payloadShapeList} (default default)
  --ids STYLE            ${userIdStyles.join(' | ')} (default uuid: random order; sequential flatters)
  --remove-ratio F       share of remove batches (default 0.2)
  --cohorts N            cohorts the batches spread over (default 4)
  --duplicate-rate F     share of resent message_ids (default 0)
  --connections N        parallel connections (default 4, like Amplitude)
  --duration S | --requests N   per round and server (default 5 s)
  --warmup S             unmeasured load first (default 1)
  --rounds N             target/baseline pairs (default 2)
  --mode M               saturate | paced | both (default both; --rate alone means paced)
  --rate R               paced arrival rate, requests/s (default ${defaultRate})
Verdict and output
  --budget-p99-ms MS     p99 budget (default 1000)
  --timeout-ms MS        a slower answer is a timeout (default 2000)
  --e2e                  also measure apply lag and apply rate from /metrics
  --metrics-url URL      where /metrics is (default: the target's origin)
  --no-baseline          skip the bare server
  --json FILE            write every number as JSON
  --chart FILE           latency chart, SVG (default bench/results/latency.svg; '' for none)
  --no-pin | --pin on    CPU pinning (default: on with taskset and 2+ CPUs)
  --seed N               traffic seed (default 1)
  --quiet                print the JSON result instead of the text report
  --cpu-prof DIR         profile the built-in receiver (node --cpu-prof) into DIR
`;
