/** @module The soak's command line: every option, its default, and a message naming a bad value. */
import { parseArgs } from 'node:util';

export interface SoakOptions {
  /** How long the steady load lasts, in seconds (`--minutes 10` or `--seconds 20`). @default 600 */
  durationSeconds: number;
  /** Paced (open-loop) arrival rate, requests/s. @default 20 (Amplitude's 4 senders at ~200 ms each) */
  rate: number;
  /** Users per body. @default 1000 */
  users: number;
  /** user_properties per user. @default 5 */
  properties: number;
  /** Share of bodies that remove users. @default 0.3 */
  removeRatio: number;
  /** Share of bodies sent twice, as a retrying sender does. @default 0.01 */
  duplicateRate: number;
  /** Requests in flight at most; a send that finds them all busy is counted as skipped. @default 16 */
  maxInFlight: number;
  /** Seconds between samples of the receiver's memory, event-loop delay and latency. @default 10 (2 under a minute) */
  sampleSeconds: number;
  /** Extra environment for the receiver (`--env KEY=VALUE`, repeatable), e.g. QUEUE=sqlite. */
  env: Record<string, string>;
  /** Writes the whole report as JSON here. */
  json: string | undefined;
  seed: number;
}

export class SoakUsageError extends Error {
  override name = 'SoakUsageError';
}

export const soakUsage = `Usage: npm run soak -- [options]

Starts the receiver, holds a steady paced load on it, samples its memory, event-loop delay and
ack latency, then stops it and reports the trends. Exit code: 0 the receiver stayed up, drained
and exited cleanly; 1 otherwise; 2 a bad option.

  --minutes N          steady load for N minutes (default 10)
  --seconds N          or for N seconds (the CI version runs 20)
  --rate N             requests per second, paced (default 20)
  --users N            users per body (default 1000)
  --properties N       user_properties per user (default 5)
  --remove-ratio R     share of bodies that remove users (default 0.3)
  --duplicate-rate R   share of bodies sent twice (default 0.01)
  --max-in-flight N    concurrent requests at most (default 16)
  --sample-seconds N   seconds between samples (default 10; 2 for runs under a minute)
  --env KEY=VALUE      extra receiver environment, repeatable (default SINKS=none)
  --json FILE          also write the report as JSON
  --seed N             payload generator seed (default 1)
  -h, --help           this text`;

/**
 * Parses `argv` (without node and the script); `'help'` when `--help` was asked for.
 * @throws SoakUsageError naming the bad option.
 */
export function parseSoakArgs(argv: string[]): SoakOptions | 'help' {
  let values: ReturnType<typeof readArguments>;
  try {
    values = readArguments(argv);
  } catch (error) {
    // parseArgs words its errors well ("Unknown option '--x'"); keep them, as a usage error.
    throw new SoakUsageError((error as Error).message);
  }
  return values.help ? 'help' : toOptions(values);
}

/** The options `argv` asks for; `--help` is a usage error here. @throws SoakUsageError */
export function parseSoakOptions(argv: string[]): SoakOptions {
  const parsed = parseSoakArgs(argv);
  if (parsed === 'help') throw new SoakUsageError('Expected options, got --help');
  return parsed;
}

function readArguments(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string', default: '20' },
      users: { type: 'string', default: '1000' },
      properties: { type: 'string', default: '5' },
      'remove-ratio': { type: 'string', default: '0.3' },
      'duplicate-rate': { type: 'string', default: '0.01' },
      'max-in-flight': { type: 'string', default: '16' },
      'sample-seconds': { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      json: { type: 'string' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

function toOptions(values: ReturnType<typeof readArguments>): SoakOptions {
  const number = (name: string, text: string, check: (value: number) => boolean, expectation: string) => {
    const value = Number(text);
    if (text.trim() === '' || !check(value)) {
      throw new SoakUsageError(`Expected --${name} to be ${expectation}, got \`${text}\``);
    }
    return value;
  };
  const positive = (value: number) => Number.isFinite(value) && value > 0;
  const positiveInteger = (value: number) => Number.isInteger(value) && value > 0;
  const share = (value: number) => value >= 0 && value <= 1;
  if (values.minutes !== undefined && values.seconds !== undefined) {
    throw new SoakUsageError('Expected either --minutes or --seconds, not both');
  }
  const durationSeconds =
    values.seconds !== undefined
      ? number('seconds', values.seconds, positive, 'a positive number')
      : 60 * number('minutes', values.minutes ?? '10', positive, 'a positive number');
  const env: Record<string, string> = {};
  for (const pair of values.env) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw new SoakUsageError(`Expected --env KEY=VALUE, got \`${pair}\``);
    env[match[1] as string] = match[2] as string;
  }
  return {
    durationSeconds,
    rate: number('rate', values.rate, positive, 'a positive number'),
    users: number('users', values.users, positiveInteger, 'a positive integer'),
    properties: number(
      'properties',
      values.properties,
      (v) => Number.isInteger(v) && v >= 0,
      'an integer ≥ 0',
    ),
    removeRatio: number('remove-ratio', values['remove-ratio'], share, 'between 0 and 1'),
    duplicateRate: number('duplicate-rate', values['duplicate-rate'], share, 'between 0 and 1'),
    maxInFlight: number('max-in-flight', values['max-in-flight'], positiveInteger, 'a positive integer'),
    sampleSeconds:
      values['sample-seconds'] !== undefined
        ? number('sample-seconds', values['sample-seconds'], positive, 'a positive number')
        : durationSeconds < 60
          ? 2
          : 10,
    env,
    json: values.json,
    seed: number('seed', values.seed, Number.isInteger, 'an integer'),
  };
}
