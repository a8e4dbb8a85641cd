/** @module The simulator's options: defaults, command-line parsing (node:util parseArgs) and checks. */
import { parseArgs } from 'node:util';
import { type PayloadShape, payloadShapeList, payloadShapeNamed } from './payload-shapes.ts';

/** The body shape sent, one per shipped template (see templates/ and the README). */
export type Shape = PayloadShape;

export interface SimulatorOptions {
  /** The webhook URL to POST to, e.g. `http://127.0.0.1:8080/webhook`. */
  url: string;
  /**
   * The read API's base: members are read from `<readUrl path>/cohorts/:id/members`, keeping its
   * query string. @default the webhook URL's origin, plus its `?token=` if it has one
   */
  readUrl: string;
  /** Sent with every request, webhook and reads alike (Amplitude allows five custom headers). */
  headers: Record<string, string>;
  /** @default 3 */
  cohorts: number;
  /** Users who may ever be in each cohort. @default 2000 */
  users: number;
  /** Syncs after the initial full sync. @default 10 */
  steps: number;
  /** Users per message. @default 500 */
  batchSize: number;
  /** User properties per user (Amplitude allows up to 50); 0 sends none. @default 5 */
  properties: number;
  /** Chance that a user enters or leaves at each step. @default 0.1 */
  churn: number;
  /** Requests in flight at once. @default 4 (Amplitude's documented parallelism) */
  concurrency: number;
  /** Chance that a message is sent a second time, later. @default 0.05 */
  duplicateRate: number;
  /** How far a message may be overtaken by later ones: 0 keeps the planned order. @default 8 */
  reorderWindow: number;
  /** An attempt not answered within this is abandoned and retried. @default 2000 (Amplitude waits 1-2 s) */
  timeoutMs: number;
  /** Retries after the first attempt. @default 8 (Amplitude's nearest documented figure) */
  retries: number;
  /** Delay before the first retry, doubling after each. @default 1000 */
  backoffMs: number;
  /** Fixes the plan and the delivery schedule. @default random, printed in the report */
  seed: number;
  /** Names this run's cohorts and message_ids, so runs against one endpoint never collide. @default `sim-<time>` */
  runId: string;
  /** computed_time of the initial sync, epoch seconds; each step adds 60. @default now minus the steps */
  startTime: number;
  /** @default 'default' */
  shape: Shape;
  /**
   * Pause between steps, after every message of the previous step is acknowledged; steps are then
   * delivered one after another. @default 0, or 1100 for per-user-flags (see the README)
   */
  stepGapMs: number;
  /** Read-back ends once the endpoint's state has not changed for this long. @default 2000 */
  settleMs: number;
  /** Read-back gives up after this long. @default 60000 */
  maxWaitMs: number;
  /** Also write the full result as JSON to this file. */
  json?: string;
  /** After a passing run, remove its cohorts from the endpoint (DELETE /cohorts/:id). @default false */
  cleanup: boolean;
}

/** A bad command line; the message says which option and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const usage = `Usage: npm run simulate -- --url URL [options]

Plays cohorts' lives the way Amplitude delivers them (an initial full sync, then steps of adds
and removes; parallel requests, timeouts, retries, duplicates, reordering), reads the endpoint's
membership back through GET /cohorts/:id/members and lists every difference from the expected
state. Exit code: 0 no difference, 1 differences or undelivered messages, 2 usage or read error.

  --url URL               webhook URL to POST to (required)
  --header 'Name: value'  header for every request (repeatable), e.g. 'Authorization: Bearer …'
  --read-url URL          read API base (default: the webhook URL's origin, and its ?token=)
  --shape NAME            ${payloadShapeList} (default: default)
  --cohorts N             cohorts (default: 3)
  --users N               users who may be in each cohort (default: 2000)
  --steps N               syncs after the initial one (default: 10)
  --batch-size N          users per message (default: 500)
  --properties N          user properties per user, 0-50 (default: 5)
  --churn P               chance a user enters or leaves at each step (default: 0.1)
  --concurrency N         requests in flight (default: 4)
  --duplicate-rate P      chance a message is sent twice (default: 0.05)
  --reorder-window N      how far a message may be overtaken (default: 8)
  --timeout-ms N          client timeout per attempt (default: 2000)
  --retries N             retries after a timeout, 5xx or 429 (default: 8)
  --backoff-ms N          first retry delay, doubling (default: 1000)
  --seed N                fixes plan and schedule (default: random, printed)
  --run-id ID             names cohorts and message_ids (default: sim-<time>)
  --start-time SECONDS    computed_time of the initial sync (default: now minus the steps)
  --step-gap-ms N         pause between steps, delivered in order (default: 0; 1100 for per-user-flags)
  --settle-ms N           stop reading back once the state is stable this long (default: 2000)
  --max-wait-ms N         give up reading back after this long (default: 60000)
  --json FILE             also write the full result as JSON
  --cleanup               after a PASS, remove this run's cohorts (DELETE /cohorts/:id on the read API)
  -h, --help              this text`;

const argumentSpec = {
  url: { type: 'string' },
  header: { type: 'string', multiple: true },
  'read-url': { type: 'string' },
  shape: { type: 'string' },
  cohorts: { type: 'string' },
  users: { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  properties: { type: 'string' },
  churn: { type: 'string' },
  concurrency: { type: 'string' },
  'duplicate-rate': { type: 'string' },
  'reorder-window': { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
  'backoff-ms': { type: 'string' },
  seed: { type: 'string' },
  'run-id': { type: 'string' },
  'start-time': { type: 'string' },
  'step-gap-ms': { type: 'string' },
  'settle-ms': { type: 'string' },
  'max-wait-ms': { type: 'string' },
  json: { type: 'string' },
  cleanup: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type ParsedCommand = { kind: 'help' } | { kind: 'run'; options: SimulatorOptions };

/**
 * Parses the command line (without `node` and the script). `now` and `randomSeed` are passed in
 * so tests can pin the defaults that depend on them.
 * @throws UsageError naming the bad option.
 */
export function parseSimulatorArgs(
  argv: string[],
  { now = Date.now, randomSeed = () => Math.floor(Math.random() * 2 ** 31) } = {},
): ParsedCommand {
  const values = readArguments(argv);
  if (values.help) return { kind: 'help' };
  if (values.url === undefined) throw new UsageError('Expected `--url`, the webhook URL to send to');
  const url = httpUrl('--url', values.url);
  const shape = payloadShape(values.shape ?? 'default');
  const steps = integer('--steps', values.steps, 10, 0, 10_000);
  const options: SimulatorOptions = {
    url: url.href,
    readUrl:
      values['read-url'] === undefined ? defaultReadUrl(url) : httpUrl('--read-url', values['read-url']).href,
    headers: parseHeaders(values.header ?? []),
    shape,
    cohorts: integer('--cohorts', values.cohorts, 3, 1, 1000),
    users: integer('--users', values.users, 2000, 1, 10_000_000),
    steps,
    batchSize: integer('--batch-size', values['batch-size'], 500, 1, 1_000_000),
    properties: integer('--properties', values.properties, 5, 0, 50),
    churn: probability('--churn', values.churn, 0.1),
    concurrency: integer('--concurrency', values.concurrency, 4, 1, 1000),
    duplicateRate: probability('--duplicate-rate', values['duplicate-rate'], 0.05),
    reorderWindow: integer('--reorder-window', values['reorder-window'], 8, 0, 1_000_000),
    timeoutMs: integer('--timeout-ms', values['timeout-ms'], 2000, 1, 3_600_000),
    retries: integer('--retries', values.retries, 8, 0, 100),
    backoffMs: integer('--backoff-ms', values['backoff-ms'], 1000, 0, 3_600_000),
    seed: integer('--seed', values.seed, randomSeed(), 0, 2 ** 32 - 1),
    runId: runId(values['run-id'] ?? `sim-${now().toString(36)}`),
    startTime: integer(
      '--start-time',
      values['start-time'],
      Math.floor(now() / 1000) - 60 * steps,
      0,
      253_402_300_799,
    ),
    stepGapMs: integer(
      '--step-gap-ms',
      values['step-gap-ms'],
      shape === 'per-user-flags' ? 1100 : 0,
      0,
      3_600_000,
    ),
    settleMs: integer('--settle-ms', values['settle-ms'], 2000, 0, 3_600_000),
    maxWaitMs: integer('--max-wait-ms', values['max-wait-ms'], 60_000, 0, 86_400_000),
    ...(values.json === undefined ? {} : { json: values.json }),
    cleanup: values.cleanup === true,
  };
  return { kind: 'run', options };
}

function readArguments(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: argumentSpec, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs words its errors well ("Unknown option '--x'"); keep them, as a usage error.
    throw new UsageError((error as Error).message);
  }
}

/** The webhook URL's origin, keeping a `?token=` so reads pass the same URL-borne secret. */
export function defaultReadUrl(webhookUrl: URL): string {
  const readUrl = new URL(webhookUrl.origin);
  const token = webhookUrl.searchParams.get('token');
  if (token !== null) readUrl.searchParams.set('token', token);
  return readUrl.href;
}

/** `Name: value` lines into a header record. */
export function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim();
    // Per RFC 9110 a field name is a token.
    if (colon < 1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`Expected \`--header\` as 'Name: value', got \`${line}\``);
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

function httpUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`Expected \`${name}\` to be an http(s) URL, got \`${text}\``);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`Expected \`${name}\` to be an http(s) URL, got \`${text}\``);
  }
  return url;
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`Expected \`${name}\` to be an integer from ${min} to ${max}, got \`${text}\``);
  }
  return value;
}

function probability(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) {
    throw new UsageError(`Expected \`${name}\` to be a number from 0 to 1, got \`${text}\``);
  }
  return value;
}

function payloadShape(text: string): Shape {
  const shape = payloadShapeNamed(text);
  if (shape === undefined) {
    throw new UsageError(`Expected \`--shape\` to be one of ${payloadShapeList}, got \`${text}\``);
  }
  return shape;
}

/** Letters, digits and `-` only: it goes into cohort ids, where the flag list forbids `_`. */
function runId(text: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(text)) {
    throw new UsageError(`Expected \`--run-id\` to be 1-64 letters, digits or "-", got \`${text}\``);
  }
  return text;
}
