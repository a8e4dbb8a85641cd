/**
 * @module The first-sync run: one cohort of N users sent the way Amplitude's sender sends a first
 * sync (sender.ts), to the built-in receiver on its defaults or to any endpoint (`url`), while the
 * read API is watched until every member shows. It reports what the sender saw (given up, timeouts,
 * 503s, how long it was busy, ack latency), how fast the members became readable, tenth by tenth,
 * and, for the built-in receiver, its peak RSS and the disk it took.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compiledReceiver, type ReceiverProcess, startReceiverProcess } from '../receiver-process.ts';
import { type UserIdStyle, userIdFor } from '../user-ids.ts';
import { defaultProbe, type ProbeOptions, type ProbeResult, probeUntil } from './probe.ts';
import { amplitudeBackoffMs, quantile, type SenderResult, sendLikeAmplitude } from './sender.ts';

export interface FirstSyncOptions {
  users: number;
  usersPerRequest: number;
  ids: UserIdStyle;
  /** user_properties per user. */
  properties: number;
  /** Any endpoint's webhook URL; absent: the built-in receiver on its defaults. */
  url: string | undefined;
  headers: Record<string, string>;
  /** Extra environment for the built-in receiver. */
  env: Record<string, string>;
  inFlight: number;
  timeoutMs: number;
  backoffMs: readonly number[];
  /** Stop watching the read API after this long without progress. @default 300 s */
  stallTimeoutMs: number;
  /** Paced 100-user bodies to B alone, then to the receiver while the sync applies; undefined: none. */
  probe: ProbeOptions | undefined;
  log: (line: string) => void;
}

export interface FirstSyncResult {
  users: number;
  usersPerRequest: number;
  ids: UserIdStyle;
  sender: Omit<SenderResult, 'latenciesMs'> & {
    ackMs: { p50: number; p99: number; max: number };
    /** Users a second acknowledged while the sender was busy. */
    ackedUsersPerSecond: number;
  };
  /** Members readable at the end, against `users`. */
  readable: number;
  /** From the first request until the read API showed every member; null if it never did. */
  readableAfterMs: number | null;
  /** users / readableAfterMs. */
  endToEndUsersPerSecond: number | null;
  /** Users a second over each tenth of the members becoming readable. */
  tenths: number[];
  /** Built-in receiver only: its resident memory and its data folder at their largest. */
  peakRssBytes: number | null;
  peakDiskBytes: number | null;
  /** The paced probe: the bare server B alone, then the receiver until every member was readable. */
  probe: { bare: ProbeResult; receiver: ProbeResult } | null;
}

/** Properties as a sync carries them: a few of each JSON type. */
function propertiesOf(n: number, count: number): Record<string, unknown> {
  const all: [string, unknown][] = [
    ['plan', n % 3 === 0 ? 'pro' : 'free'],
    ['seats', n % 50],
    ['active', n % 2 === 0],
    ['country', ['FR', 'US', 'DE', 'JP'][n % 4]],
    ['score', (n % 1000) / 10],
  ];
  const properties: Record<string, unknown> = {};
  for (let index = 0; index < count; index++) {
    const [key, value] = all[index % all.length] as [string, unknown];
    properties[index < all.length ? key : `${key}_${index}`] = value;
  }
  return properties;
}

/** Batch `index` of the sync: users `index * size …`, in the cohort `cohortId`. */
export function firstSyncBody(
  index: number,
  run: { cohortId: string; runId: string; computedTime: number },
  options: Pick<FirstSyncOptions, 'users' | 'usersPerRequest' | 'ids' | 'properties'>,
): string {
  const first = index * options.usersPerRequest;
  const last = Math.min(options.users, first + options.usersPerRequest);
  const users: string[] = [];
  for (let n = first; n < last; n++) {
    const user = { user_id: userIdFor(n, options.ids) };
    users.push(
      JSON.stringify(
        options.properties > 0 ? { ...user, user_properties: propertiesOf(n, options.properties) } : user,
      ),
    );
  }
  return (
    `{"cohort_name":"First sync ${run.runId}","cohort_id":"${run.cohortId}","in_cohort":true,` +
    `"computed_time":"${run.computedTime}","message_id":"${run.runId}::enter::${index}","users":[${users.join(',')}]}`
  );
}

export async function runFirstSync(options: FirstSyncOptions): Promise<FirstSyncResult> {
  const runId = `first-sync-${randomBytes(4).toString('hex')}`;
  const cohortId = runId;
  const token = randomBytes(16).toString('hex');
  const dir = options.url === undefined ? mkdtempSync(join(tmpdir(), 'cohort-first-sync-')) : undefined;
  let receiver: ReceiverProcess | undefined;
  try {
    if (dir !== undefined) {
      receiver = await startReceiverProcess({
        script: compiledReceiver(),
        env: {
          AUTH_TOKENS: token,
          SQLITE_PATH: join(dir, 'cohorts.db'),
          LOG_LEVEL: 'warn',
          ...options.env,
        },
        logPath: join(dir, 'receiver.log'),
        ready: { path: '/healthz' },
      });
    }
    const webhookUrl = options.url ?? `${receiver?.url}/webhook`;
    const headers = options.url === undefined ? { authorization: `Bearer ${token}` } : options.headers;
    const origin = new URL(webhookUrl).origin;
    const batches = Math.ceil(options.users / options.usersPerRequest);
    const run = { cohortId, runId, computedTime: Math.floor(Date.now() / 1000) };
    options.log(
      `first sync: ${options.users.toLocaleString('en')} users, ${options.usersPerRequest.toLocaleString('en')} a request (${batches.toLocaleString('en')} requests), ${options.ids} ids, ${options.properties} properties, ${options.inFlight} in flight, to ${webhookUrl}`,
    );

    // B alone first, on the same paced load, for the probe's floor.
    const bare = options.probe && (await probeBare(options.probe, dir ?? tmpdir()));
    const started = performance.now();
    const sending = sendLikeAmplitude(batches, (index) => firstSyncBody(index, run, options), {
      url: webhookUrl,
      headers,
      inFlight: options.inFlight,
      timeoutMs: options.timeoutMs,
      backoffMs: options.backoffMs,
    });
    const watched = watchReadable(origin, headers, cohortId, options, started, sending, receiver?.pid, dir);
    let watching = true;
    void watched.finally(() => {
      watching = false;
    });
    const probing =
      options.probe && probeUntil({ url: webhookUrl, headers }, options.probe, () => !watching, 2);
    const [sender, readable, probed] = await Promise.all([sending, watched, probing]);
    options.log(`first sync: the sender was busy ${(sender.busyMs / 1000).toFixed(1)} s`);

    const { latenciesMs, ...counts } = sender;
    return {
      users: options.users,
      usersPerRequest: options.usersPerRequest,
      ids: options.ids,
      sender: {
        ...counts,
        ackMs: {
          p50: round(quantile(latenciesMs, 0.5)),
          p99: round(quantile(latenciesMs, 0.99)),
          max: round(latenciesMs.at(-1) ?? 0),
        },
        ackedUsersPerSecond: Math.round(
          (sender.delivered * options.usersPerRequest) / (sender.busyMs / 1000 || 1),
        ),
      },
      ...readable,
      endToEndUsersPerSecond:
        readable.readableAfterMs === null
          ? null
          : Math.round(options.users / (readable.readableAfterMs / 1000)),
      probe: bare && probed ? { bare, receiver: probed } : null,
    };
  } finally {
    await receiver?.stop(120_000);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** The probe against the bare server B, started for it and alone on the machine: two paced runs. */
async function probeBare(probe: ProbeOptions, dir: string): Promise<ProbeResult> {
  const bare = await startReceiverProcess({
    name: 'baseline',
    script: 'bench/baseline-server.ts',
    logPath: join(dir, 'bare.log'),
  });
  try {
    let runs = 0;
    return await probeUntil({ url: `${bare.url}/webhook`, headers: {} }, probe, () => ++runs >= 2, 1);
  } finally {
    await bare.stop(5000);
  }
}

/** Polls `GET /cohorts` until the cohort shows every user, or makes no progress for the stall timeout. */
async function watchReadable(
  origin: string,
  headers: Record<string, string>,
  cohortId: string,
  options: FirstSyncOptions,
  started: number,
  sending: Promise<SenderResult>,
  pid: number | undefined,
  dir: string | undefined,
) {
  const marks = Array.from({ length: 10 }, (_, k) => Math.round(((k + 1) * options.users) / 10));
  const at: number[] = [];
  let members = 0;
  let lastProgressAt = performance.now();
  let peakRssBytes: number | null = null;
  let peakDiskBytes: number | null = null;
  let sent = false;
  void sending.finally(() => {
    sent = true;
  });
  while (members < options.users) {
    const now = performance.now();
    const count = await memberCount(origin, headers, cohortId).catch(() => members);
    if (count > members) lastProgressAt = now;
    members = count;
    while (at.length < marks.length && members >= (marks[at.length] as number)) at.push(now);
    if (pid !== undefined) peakRssBytes = Math.max(peakRssBytes ?? 0, rssOf(pid));
    if (dir !== undefined) peakDiskBytes = Math.max(peakDiskBytes ?? 0, sizeOf(dir));
    if (sent && now - lastProgressAt > options.stallTimeoutMs) break;
    await sleep(200);
  }
  const readableAfterMs = members >= options.users ? (at.at(-1) as number) - started : null;
  const tenths = at.map((time, k) =>
    Math.round(options.users / 10 / ((time - (k === 0 ? started : (at[k - 1] as number))) / 1000)),
  );
  if (readableAfterMs !== null) {
    options.log(`first sync: every member readable after ${(readableAfterMs / 1000).toFixed(1)} s`);
  } else {
    options.log(
      `first sync: ${members.toLocaleString('en')} of ${options.users.toLocaleString('en')} readable; no progress for ${options.stallTimeoutMs / 1000} s`,
    );
  }
  return { readable: members, readableAfterMs, tenths, peakRssBytes, peakDiskBytes };
}

async function memberCount(origin: string, headers: Record<string, string>, cohortId: string) {
  const response = await fetch(`${origin}/cohorts`, { headers, signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`GET /cohorts answered ${response.status}`);
  const { cohorts } = (await response.json()) as { cohorts: { cohort_id: string; members: number }[] };
  return cohorts.find((cohort) => cohort.cohort_id === cohortId)?.members ?? 0;
}

/** Resident memory of `pid`, with its threads, from /proc. */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Bytes of every file under `dir`. */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // A file may go between the listing and its stat (a WAL, a compacted table).
    if (entry.isFile())
      total += statSync(join(entry.parentPath, entry.name), { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export const defaultFirstSync = {
  usersPerRequest: 1000,
  ids: 'uuid' as UserIdStyle,
  properties: 3,
  inFlight: 4,
  timeoutMs: 2000,
  backoffMs: amplitudeBackoffMs,
  stallTimeoutMs: 300_000,
  probe: defaultProbe as ProbeOptions | undefined,
};
