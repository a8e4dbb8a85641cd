/**
 * @module `npm run sinks` and `npm run backfill`: HTTP clients of a running receiver's `/sinks` API
 * (src/sink-control/api.ts), so they work whatever QUEUE is, `memory` included: the state they show
 * and change lives in the receiver, not in a file this process could open. Pure of the
 * environment: the entry files (`sinks.ts`, `backfill.ts`) give it `process.env`, `fetch` and
 * places to print.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const connectionHelp = `Options (both commands)
  --url <url>             the receiver; default RECEIVER_URL, else http://127.0.0.1:$PORT (PORT 8080)
  --token <token>         its secret; default the first of AUTH_TOKENS, as the receiver reads it.
                          Sent in the AUTH_HEADER header (default Authorization: Bearer <token>)
Exit codes: 0 done, 1 refused or failed (the receiver's message is printed), 2 bad usage`;

export const sinksUsage = `Usage: npm run sinks -- <command> [name] [options]

Commands
  status                  every sink: state, changes waiting and held, backfill progress;
                          and the cohorts the mass-exit guard holds, with the numbers that tripped it
  pause <sink>            keep the sink's changes, in order, until it is resumed
  resume <sink>           send what waits, oldest first, then go on as before
  release <cohort_id>     send a held cohort's changes to the sinks, in order
  discard <cohort_id>     drop a held cohort's changes: the sinks keep the members they had
  help, -h, --help        this text
${connectionHelp}`;

export const backfillUsage = `Usage: npm run backfill -- --sink <sink> [--cohort <cohort_id>] [--no-wait] [options]

Sends the sink the current members of the cohorts it routes (or of one cohort), each as an
\`entered\` change marked \`restated\`, then follows it with a progress bar on stderr until done.
  --sink <sink>           the sink to backfill (a name from the receiver's SINKS)
  --cohort <cohort_id>    only this cohort
  --no-wait               start it and return; follow it with \`npm run sinks -- status\`
  -h, --help              this text
Stopping this command (Ctrl-C) does not stop the backfill: the receiver runs it.
${connectionHelp}`;

/** Where the entry file prints; `warn` is stderr. */
export interface CliOutput {
  print: (line: string) => void;
  warn: (line: string) => void;
}

export interface CliDeps extends CliOutput {
  /** The variables the receiver reads: RECEIVER_URL, PORT, AUTH_TOKENS, AUTH_HEADER. */
  env: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface BackfillDeps extends CliDeps {
  /** stderr as the progress bar sees it: redrawn in place on a terminal, a line now and then elsewhere. */
  progress: { isTTY: boolean; write: (text: string) => void };
  /** @default 500 */
  pollMs?: number;
  wait?: (ms: number) => Promise<unknown>;
}

/** A failure to report and exit with: 2 for bad usage (the usage follows), 1 otherwise. */
export class CliFailure extends Error {
  override name = 'CliFailure';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** The receiver did not answer (down, restarting): worth asking again a little later. */
    readonly unreachable = false,
  ) {
    super(message);
  }
}

/** `--help`, `-h` or the `help` command: the usage, and nothing sent. */
export function asksForHelp(argv: readonly string[]): boolean {
  return argv[0] === 'help' || argv.includes('--help') || argv.includes('-h');
}

// ---------------------------------------------------------------------------------------------
// Arguments

/** Options with a value, `--name value` or `--name=value`; flags; and the words left. */
function splitArguments(argv: readonly string[], valued: readonly string[], flags: readonly string[]) {
  const options: Record<string, string> = {};
  const set = new Set<string>();
  const words: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const value = argv[index] as string;
    if (!value.startsWith('--')) {
      words.push(value);
      continue;
    }
    const [name, inline] = value.includes('=')
      ? [value.slice(0, value.indexOf('=')), value.slice(value.indexOf('=') + 1)]
      : [value, undefined];
    if (flags.includes(name)) {
      if (inline !== undefined) throw new CliFailure(`${name} takes no value`, 2);
      set.add(name);
    } else if (valued.includes(name)) {
      const given = inline ?? argv[++index];
      if (given === undefined || given === '' || (inline === undefined && given.startsWith('--'))) {
        throw new CliFailure(`${name} needs a value`, 2);
      }
      options[name] = given;
    } else throw new CliFailure(`unknown option ${name}`, 2);
  }
  return { options, flags: set, words };
}

const connection = ['--url', '--token'] as const;

export type SinksCommand =
  | { command: 'status' }
  | { command: 'pause' | 'resume'; sink: string }
  | { command: 'release' | 'discard'; cohortId: string };

export interface ConnectionOptions {
  url?: string | undefined;
  token?: string | undefined;
}

export function parseSinksArguments(argv: readonly string[]): SinksCommand & ConnectionOptions {
  const { options, words } = splitArguments(argv, connection, []);
  const [command, name, ...rest] = words;
  const given = { url: options['--url'], token: options['--token'] };
  if (rest.length > 0) throw new CliFailure(`unexpected argument ${rest[0]}`, 2);
  switch (command) {
    case undefined:
      throw new CliFailure('name a command', 2);
    case 'status':
      if (name !== undefined) throw new CliFailure(`unexpected argument ${name}`, 2);
      return { command, ...given };
    case 'pause':
    case 'resume':
      if (name === undefined) throw new CliFailure(`${command} needs a sink name (see \`status\`)`, 2);
      return { command, sink: name, ...given };
    case 'release':
    case 'discard':
      if (name === undefined) throw new CliFailure(`${command} needs a cohort id (see \`status\`)`, 2);
      return { command, cohortId: name, ...given };
    default:
      throw new CliFailure(`unknown command ${command}`, 2);
  }
}

export interface BackfillArguments extends ConnectionOptions {
  sink: string;
  cohortId: string | undefined;
  wait: boolean;
}

export function parseBackfillArguments(argv: readonly string[]): BackfillArguments {
  const { options, flags, words } = splitArguments(
    argv,
    [...connection, '--sink', '--cohort'],
    ['--no-wait'],
  );
  // `npm run backfill -- http-crm` reads as plainly as `--sink http-crm`.
  if (words.length > 1 || (words.length === 1 && options['--sink'] !== undefined)) {
    throw new CliFailure(`unexpected argument ${words.at(-1)}`, 2);
  }
  const sink = options['--sink'] ?? words[0];
  if (sink === undefined) throw new CliFailure('name the sink: --sink <sink>', 2);
  return {
    sink,
    cohortId: options['--cohort'],
    wait: !flags.has('--no-wait'),
    url: options['--url'],
    token: options['--token'],
  };
}

// ---------------------------------------------------------------------------------------------
// The receiver

/** Where the receiver is and how to show it the secret. */
export interface Target {
  url: string;
  token: string | undefined;
  /** Lower-case header name, as the receiver's AUTH_HEADER. */
  header: string;
}

/** --url, else RECEIVER_URL, else the receiver's own default address; --token, else the first of AUTH_TOKENS. */
export function targetFrom(given: ConnectionOptions, env: CliDeps['env']): Target {
  const url = given.url ?? nonEmpty(env.RECEIVER_URL) ?? `http://127.0.0.1:${nonEmpty(env.PORT) ?? '8080'}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliFailure(`not a URL: ${url} (--url or RECEIVER_URL, such as http://127.0.0.1:8080)`, 2);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliFailure(`the receiver's URL must be http:// or https://, got ${url}`, 2);
  }
  // The same reading as the receiver's: a comma list, blanks dropped, `none` turning auth off.
  const tokens = (env.AUTH_TOKENS ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter(Boolean);
  const fromEnv = tokens.join() === 'none' ? undefined : tokens[0];
  return {
    url: url.replace(/\/+$/, ''),
    token: given.token ?? fromEnv,
    header: (nonEmpty(env.AUTH_HEADER) ?? 'authorization').toLowerCase(),
  };
}

const nonEmpty = (value: string | undefined) =>
  value === undefined || value.trim() === '' ? undefined : value;

/** GET /sinks, as src/sink-control/api.ts answers it. */
export interface StatusJson {
  sinks: SinkJson[];
  holds: HoldJson[];
}

export interface SinkJson {
  name: string;
  cohorts: string[];
  directions: string[];
  paused: { at: string; by: string } | false | null;
  waiting: number;
  held: number;
  backfill: BackfillJson | null;
}

export interface BackfillJson {
  cohorts_left: string[];
  sent: number;
  total: number;
  started_at: string;
  started_by: string;
}

export interface HoldJson {
  cohort_id: string;
  cohort_name: string;
  tripped_at: string;
  window_opened_at: string;
  members_at_open: number;
  exits: number;
  max_exit_ratio: number;
}

/** How long one request may take: the API answers from the control store, at once. */
const requestTimeoutMs = 10_000;

/** The `/sinks` API of one receiver; every failure a CliFailure whose message an operator can act on. */
export function controlClient(target: Target, fetchImpl: typeof fetch = fetch) {
  const request = async (method: 'GET' | 'POST', path: string): Promise<unknown> => {
    const headers: Record<string, string> = {};
    if (target.token !== undefined) {
      headers[target.header] = target.header === 'authorization' ? `Bearer ${target.token}` : target.token;
    }
    let response: Response;
    try {
      response = await fetchImpl(`${target.url}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      throw new CliFailure(unreachable(target.url, error), 1, true);
    }
    const text = await response.text().catch(() => '');
    const body = parseJson(text);
    if (response.ok) return body;
    if (response.status === 401) throw new CliFailure(unauthorized(target));
    // A refusal of the API: {error, message} with 404 or 409 (unknown sink, not held, already running…).
    if (isRecord(body) && typeof body.message === 'string') throw new CliFailure(body.message);
    if (response.status === 404) {
      throw new CliFailure(
        `${target.url} answered 404 to ${method} ${path}: no sink control there (a cohort-receiver with src/sink-control/ in its build?)`,
      );
    }
    const detail = isRecord(body) && typeof body.error === 'string' ? body.error : text.slice(0, 200);
    throw new CliFailure(
      `${target.url} answered ${response.status} to ${method} ${path}${detail ? `: ${detail}` : ''}`,
    );
  };
  const sink = (name: string) => `/sinks/${encodeURIComponent(name)}`;
  const hold = (cohortId: string) => `/holds/${encodeURIComponent(cohortId)}`;
  return {
    status: async () => (await request('GET', '/sinks')) as StatusJson,
    pause: async (name: string) => (await request('POST', `${sink(name)}/pause`)) as SinkJson,
    resume: async (name: string) => (await request('POST', `${sink(name)}/resume`)) as SinkJson,
    backfill: async (name: string, cohortId: string | undefined) =>
      (await request(
        'POST',
        `${sink(name)}/backfill${cohortId === undefined ? '' : `?cohort_id=${encodeURIComponent(cohortId)}`}`,
      )) as SinkJson,
    release: async (cohortId: string) =>
      (await request('POST', `${hold(cohortId)}/release`)) as { changes: number },
    discard: async (cohortId: string) =>
      (await request('POST', `${hold(cohortId)}/discard`)) as { changes: number },
  };
}

export type ControlClient = ReturnType<typeof controlClient>;

const setBy = 'set it with --url or RECEIVER_URL (default http://127.0.0.1:$PORT, PORT 8080)';

/** Why fetch threw, in words an operator can act on: which URL, and how to point at another. */
export function unreachable(url: string, error: unknown): string {
  const failure = error as Error & { cause?: { code?: string; message?: string } };
  if (failure.name === 'TimeoutError' || failure.name === 'AbortError') {
    return `the receiver at ${url} did not answer within ${requestTimeoutMs / 1000} s`;
  }
  const code = failure.cause?.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused: nothing listens there'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : (failure.cause?.message ?? failure.message);
  return `cannot reach the receiver at ${url} (${why}). Is it running? If it listens elsewhere, ${setBy}`;
}

function unauthorized(target: Target): string {
  const header = target.header === 'authorization' ? '' : ` in the ${target.header} header (AUTH_HEADER)`;
  return target.token === undefined
    ? `the receiver at ${target.url} wants its secret (401): pass --token, or set AUTH_TOKENS as the receiver has it`
    : `the receiver at ${target.url} refused the secret${header} (401): --token or the first of AUTH_TOKENS must be one of the receiver's AUTH_TOKENS${header ? '' : ", and AUTH_HEADER the same as the receiver's"}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

// ---------------------------------------------------------------------------------------------
// Rendering

/** 12345 → "12,345". */
export const count = (value: number) => Math.round(value).toLocaleString('en-US');

const percent = (part: number, whole: number) =>
  `${(whole === 0 ? 100 : Math.min(100, (100 * part) / whole)).toFixed(1)}%`;

/** A duration as an operator reads it: "45s", "3m05s", "2h07m", "3d04h". */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** Rows as aligned columns: the first row is the header; columns named in `right` align right. */
export function table(
  rows: readonly (readonly string[])[],
  right: ReadonlySet<number> = new Set(),
): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [index, cell] of row.entries()) widths[index] = Math.max(widths[index] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        if (index === row.length - 1 && !right.has(index)) return cell; // no trailing spaces
        return right.has(index) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  '),
  );
}

function backfillCell(backfill: BackfillJson | null): string {
  if (backfill === null) return '-';
  const left = backfill.cohorts_left.length;
  return `${count(backfill.sent)}/${count(backfill.total)} ${percent(backfill.sent, backfill.total)}, ${left} ${left === 1 ? 'cohort' : 'cohorts'} left`;
}

function stateCell(sink: SinkJson, now: number): string {
  if (sink.paused) return `paused ${duration(now - Date.parse(sink.paused.at))} ago by ${sink.paused.by}`;
  return sink.backfill ? 'backfilling' : 'running';
}

/** `npm run sinks -- status`: a table of the sinks, then the holds with their numbers. */
export function renderStatus(status: StatusJson, now: number): string[] {
  const lines: string[] = [];
  if (status.sinks.length === 0) lines.push('no sinks (SINKS is none on this receiver)');
  else {
    lines.push(
      ...table(
        [
          ['SINK', 'STATE', 'WAITING', 'HELD', 'BACKFILL'],
          ...status.sinks.map((sink) => [
            sink.name,
            stateCell(sink, now),
            count(sink.waiting),
            count(sink.held),
            backfillCell(sink.backfill),
          ]),
        ],
        new Set([2, 3]),
      ),
    );
  }
  lines.push('');
  if (status.holds.length === 0) {
    lines.push('no cohort held by the mass-exit guard');
    return lines;
  }
  lines.push(`held by the mass-exit guard (${status.holds.length}): its changes wait at every sink`);
  lines.push(
    ...table(
      [
        ['COHORT', 'NAME', 'HELD FOR', 'EXITS', 'OF MEMBERS', 'RATIO', 'LIMIT'],
        ...status.holds.map((hold) => [
          hold.cohort_id,
          hold.cohort_name,
          duration(now - Date.parse(hold.tripped_at)),
          count(hold.exits),
          count(hold.members_at_open),
          percent(hold.exits, hold.members_at_open),
          percent(hold.max_exit_ratio, 1),
        ]),
      ],
      new Set([3, 4, 5, 6]),
    ),
  );
  lines.push('release sends them: npm run sinks -- release <cohort_id>');
  lines.push(
    'discard drops them (the sinks keep the members they had): npm run sinks -- discard <cohort_id>',
  );
  return lines;
}

/** The one line an action prints. */
export function renderAction(command: SinksCommand, answer: SinkJson | { changes: number }): string {
  const changes = (value: number) => `${count(value)} ${value === 1 ? 'change' : 'changes'}`;
  switch (command.command) {
    case 'status':
      return '';
    case 'pause':
      return `paused ${command.sink}: its changes wait, in order, until \`npm run sinks -- resume ${command.sink}\` (${count((answer as SinkJson).waiting)} waiting now)`;
    case 'resume': {
      const waiting = (answer as SinkJson).waiting;
      return `resumed ${command.sink}: ${changes(waiting)} waiting ${waiting === 1 ? 'goes' : 'go'} out now, oldest first`;
    }
    case 'release': {
      const held = (answer as { changes: number }).changes;
      return `released cohort ${command.cohortId}: its ${changes(held)} held ${held === 1 ? 'goes' : 'go'} to the sinks, in order`;
    }
    case 'discard': {
      const held = (answer as { changes: number }).changes;
      return `discarded cohort ${command.cohortId}: its ${changes(held)} held ${held === 1 ? 'is' : 'are'} dropped; the sinks keep the members they had`;
    }
  }
}

/** Progress of a backfill: rate over the last samples (a sliding window), and the ETA it gives. */
export function progressMeter(windowMs = 10_000) {
  const samples: { at: number; sent: number }[] = [];
  return {
    /** Records a reading; the rate in members a second, undefined until two readings apart in time. */
    add(at: number, sent: number): number | undefined {
      samples.push({ at, sent });
      while (samples.length > 2 && (samples[0] as { at: number }).at < at - windowMs) samples.shift();
      const first = samples[0] as { at: number; sent: number };
      if (at - first.at <= 0) return undefined;
      return Math.max(0, ((sent - first.sent) * 1000) / (at - first.at));
    },
  };
}

/** One line of the bar: `[#####.....] 1,234/5,000  24.7%  310/s  ETA 12s`. */
export function progressLine(
  progress: { sent: number; total: number; rate: number | undefined },
  width = 30,
): string {
  const { sent, total, rate } = progress;
  const share = total === 0 ? 1 : Math.min(1, sent / total);
  const filled = Math.round(share * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const left = Math.max(0, total - sent);
  const eta =
    left === 0
      ? 'ETA 0s'
      : rate === undefined || rate === 0
        ? 'ETA ?'
        : `ETA ${duration((left / rate) * 1000)}`;
  const speed = rate === undefined ? '-/s' : `${count(rate)}/s`;
  return `${bar} ${count(sent)}/${count(total)}  ${percent(sent, total)}  ${speed}  ${eta}`;
}

// ---------------------------------------------------------------------------------------------
// The commands

/** `npm run sinks -- …`: resolves with the exit code (0 ok, 1 refused or failed, 2 usage). */
export async function runSinks(argv: string[], deps: CliDeps): Promise<number> {
  if (asksForHelp(argv)) {
    deps.print(sinksUsage);
    return 0;
  }
  return reported(deps, sinksUsage, async () => {
    const command = parseSinksArguments(argv);
    const client = controlClient(targetFrom(command, deps.env), deps.fetch);
    const now = deps.now ?? Date.now;
    switch (command.command) {
      case 'status':
        for (const line of renderStatus(await client.status(), now())) deps.print(line);
        break;
      case 'pause':
      case 'resume':
        deps.print(renderAction(command, await client[command.command](command.sink)));
        break;
      case 'release':
      case 'discard':
        deps.print(renderAction(command, await client[command.command](command.cohortId)));
        break;
    }
    return 0;
  });
}

/** How often a progress line is written when stderr is not a terminal (a log, CI). */
const lineEveryMs = 5_000;
/** How long the receiver may stay unreachable while a backfill is followed (a restart resumes it). */
const patienceMs = 60_000;

/** `npm run backfill -- …`: starts the backfill and, unless --no-wait, follows it to its end. */
export async function runBackfill(argv: string[], deps: BackfillDeps): Promise<number> {
  if (asksForHelp(argv)) {
    deps.print(backfillUsage);
    return 0;
  }
  return reported(deps, backfillUsage, async () => {
    const args = parseBackfillArguments(argv);
    const client = controlClient(targetFrom(args, deps.env), deps.fetch);
    const now = deps.now ?? Date.now;
    const wait = deps.wait ?? ((ms: number) => sleep(ms));
    const pollMs = deps.pollMs ?? 500;

    const started = await client.backfill(args.sink, args.cohortId);
    const startedAt = now();
    const ours = started.backfill;
    // Null only when the runner ended it before the answer was written: nothing left to follow.
    const what = ours ? `${cohorts(ours.cohorts_left.length)}, ${count(ours.total)} members` : 'already done';
    if (started.paused) {
      deps.warn(
        `${args.sink} is paused: the backfill starts once it is resumed (npm run sinks -- resume ${args.sink})`,
      );
    }
    if (!args.wait) {
      deps.print(`backfill of ${args.sink} started: ${what}; follow it with \`npm run sinks -- status\``);
      return 0;
    }
    if (ours) deps.warn(`backfill of ${args.sink} started: ${what}`);

    const meter = progressMeter();
    let lastLine = Number.NEGATIVE_INFINITY;
    let drawn = false;
    let awaySince: number | undefined;
    /** The backfill was gone at the first answer after an outage: done, or dropped by a restart. */
    let goneAfterOutage = false;
    let current = ours;
    while (current !== null && current.started_at === ours?.started_at) {
      const at = now();
      const line = progressLine({
        sent: current.sent,
        total: current.total,
        rate: meter.add(at, current.sent),
      });
      if (deps.progress.isTTY) {
        deps.progress.write(`\r${line}\x1b[K`);
        drawn = true;
      } else if (at - lastLine >= lineEveryMs) {
        deps.progress.write(`${line}\n`);
        lastLine = at;
      }
      await wait(pollMs);
      try {
        const status = await client.status();
        const back = awaySince !== undefined;
        awaySince = undefined;
        const sink = status.sinks.find((one) => one.name === args.sink);
        if (sink === undefined) throw new CliFailure(`the receiver no longer has a sink named ${args.sink}`);
        current = sink.backfill;
        goneAfterOutage = back && current === null;
      } catch (error) {
        // Unreachable (a restart: the backfill resumes from its cursor) is waited out a while; a
        // refusal (401 after a token rotation, a sink gone) is not.
        if (!(error instanceof CliFailure) || !error.unreachable) throw error;
        if (awaySince === undefined) {
          awaySince = now();
          if (drawn) deps.progress.write('\n');
          deps.warn(`${error.message}; trying again for ${duration(patienceMs)}`);
        } else if (now() - awaySince > patienceMs) throw error;
      }
    }
    if (drawn)
      deps.progress.write(
        `\r${progressLine({ sent: ours?.total ?? 0, total: ours?.total ?? 0, rate: undefined })}\x1b[K\n`,
      );
    if (goneAfterOutage) {
      // The control state lives beside the queue, so a restart resumes a backfill from its cursor;
      // only a receiver with no such place (QUEUE=memory without the SQLite extra) forgets it.
      deps.warn(
        'the backfill was over when the receiver answered again: finished meanwhile, or forgotten by a restart if the receiver keeps its state in memory only (QUEUE=memory without the SQLite extra): then run it again',
      );
    }
    deps.print(`backfill of ${args.sink} done in ${seconds(now() - startedAt)}: ${what}`);
    return 0;
  });
}

const cohorts = (n: number) => `${n} ${n === 1 ? 'cohort' : 'cohorts'}`;
const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : duration(ms));

/** Runs a command; a CliFailure is printed on stderr (with the usage for a usage error) as its exit code. */
async function reported(deps: CliOutput, usage: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof CliFailure)) throw error;
    deps.warn(error.exitCode === 2 ? `${error.message}\n\n${usage}` : error.message);
    return error.exitCode;
  }
}
