/**
 * @module `npm run bench -- --first-sync N`: a cohort's first sync of N users as Amplitude's sender
 * plays it (run-first-sync.ts), against the built-in receiver on its defaults or any `--url`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { asksForHelp } from '../options.ts';
import type { UserIdStyle } from '../user-ids.ts';
import { defaultProbe } from './probe.ts';
import { defaultFirstSync, type FirstSyncResult, runFirstSync } from './run-first-sync.ts';

export const firstSyncUsage = `Usage: npm run bench -- --first-sync N [options]
  --first-sync N            users in the cohort (e.g. 10000000)
  --users-per-request N     users a request (default 1000; Amplitude recommends up to 10000)
  --ids random|sequential   user ids: random-order UUIDs, as real ids are (default), or user-1, user-2…
  --properties N            user_properties per user (default 3)
  --url URL                 any endpoint's webhook (default: the built-in receiver on its defaults)
  --header "Name: value"    a header for --url, repeatable (e.g. the shared secret)
  --env K=V                 extra environment for the built-in receiver, repeatable
  --in-flight N             requests at once (default 4)
  --timeout-ms N            a slower answer is a timeout, sent again (default 2000)
  --probe-rate N            paced 100-user bodies a second, to B alone and then to the receiver
                            while the sync applies (default 20; 0: no probe)
  --json FILE               write the result as JSON
  -h, --help                this text`;

export async function runFirstSyncCli(argv: string[]): Promise<number> {
  if (asksForHelp(argv)) {
    console.log(firstSyncUsage);
    return 0;
  }
  const values = readFirstSyncArgs(argv);
  if (values === undefined) return 2;
  const users = Number(values['first-sync']);
  const usersPerRequest = Number(values['users-per-request']);
  const properties = Number(values.properties);
  const inFlight = Number(values['in-flight']);
  const timeoutMs = Number(values['timeout-ms']);
  const probeRate = Number(values['probe-rate']);
  const problems = [
    Number.isInteger(users) && users >= 1 ? '' : '--first-sync: a whole number of users',
    Number.isInteger(usersPerRequest) && usersPerRequest >= 1 ? '' : '--users-per-request: a whole number',
    ['random', 'sequential'].includes(values.ids) ? '' : '--ids: random or sequential',
    Number.isInteger(properties) && properties >= 0 && properties <= 50 ? '' : '--properties: 0 to 50',
    Number.isInteger(inFlight) && inFlight >= 1 ? '' : '--in-flight: a whole number',
    Number.isInteger(timeoutMs) && timeoutMs >= 1 ? '' : '--timeout-ms: a whole number of ms',
    Number.isFinite(probeRate) && probeRate >= 0 ? '' : '--probe-rate: bodies a second, 0 for none',
  ].filter(Boolean);
  if (problems.length > 0) {
    console.error(`${problems.join('\n')}\n\n${firstSyncUsage}`);
    return 2;
  }
  const headers = Object.fromEntries(
    values.header.map((line) => [
      line.slice(0, line.indexOf(':')).trim(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  const env = Object.fromEntries(
    values.env.map((pair) => [pair.split('=')[0], pair.split('=').slice(1).join('=')]),
  );
  const result = await runFirstSync({
    ...defaultFirstSync,
    users,
    usersPerRequest,
    ids: (values.ids === 'random' ? 'uuid' : 'sequential') as UserIdStyle,
    properties,
    inFlight,
    timeoutMs,
    probe: probeRate > 0 ? { ...defaultProbe, rate: probeRate } : undefined,
    url: values.url,
    headers,
    env,
    log: (line) => console.log(line),
  });
  console.log(formatFirstSync(result));
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  }
  return result.sender.givenUp === 0 && result.readableAfterMs !== null ? 0 : 1;
}

/** The options, or undefined after printing what is wrong with them. */
function readFirstSyncArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      options: {
        'first-sync': { type: 'string' },
        'users-per-request': { type: 'string', default: String(defaultFirstSync.usersPerRequest) },
        ids: { type: 'string', default: 'random' },
        properties: { type: 'string', default: String(defaultFirstSync.properties) },
        url: { type: 'string' },
        header: { type: 'string', multiple: true, default: [] },
        env: { type: 'string', multiple: true, default: [] },
        'in-flight': { type: 'string', default: String(defaultFirstSync.inFlight) },
        'timeout-ms': { type: 'string', default: String(defaultFirstSync.timeoutMs) },
        'probe-rate': { type: 'string', default: String(defaultProbe.rate) },
        json: { type: 'string' },
      },
    }).values;
  } catch (error) {
    // parseArgs words its errors well ("Unknown option '--x'"); print them with the usage.
    console.error(`${(error as Error).message}\n\n${firstSyncUsage}`);
    return undefined;
  }
}

const count = (n: number) => n.toLocaleString('en');
const mb = (bytes: number | null) => (bytes === null ? 'n/a' : `${Math.round(bytes / 1024 / 1024)} MB`);

export function formatFirstSync(result: FirstSyncResult): string {
  const { sender } = result;
  const others = Object.entries(sender.statuses)
    .filter(([status]) => status !== '200')
    .map(([status, times]) => `${times} × ${status}`);
  return [
    '',
    `| first sync, ${count(result.users)} users, ${count(result.usersPerRequest)} a request, ${result.ids === 'uuid' ? 'random' : result.ids} ids | |`,
    '|---|---|',
    `| batches given up by the sender / timeouts | ${sender.givenUp} / ${sender.timeouts} |`,
    `| answers other than 200 | ${others.length > 0 ? others.join(', ') : 'none'}; connection errors ${sender.connectionErrors}; most retries for one batch ${sender.mostRetries} |`,
    `| the sender busy | ${(sender.busyMs / 1000).toFixed(1)} s (${count(sender.ackedUsersPerSecond)} users/s acknowledged) |`,
    `| ack latency | p50 ${sender.ackMs.p50} ms, p99 ${sender.ackMs.p99} ms, max ${sender.ackMs.max} ms |`,
    `| every member readable | ${
      result.readableAfterMs === null
        ? `no: ${count(result.readable)} of ${count(result.users)}`
        : `after ${(result.readableAfterMs / 1000).toFixed(1)} s: ${count(result.endToEndUsersPerSecond ?? 0)} users/s end to end`
    } |`,
    `| users/s by tenth | ${result.tenths.map(count).join(' · ')} |`,
    `| peak RSS / disk | ${mb(result.peakRssBytes)} / ${mb(result.peakDiskBytes)} |`,
    ...(result.probe ? [probeRow(result.probe)] : []),
  ].join('\n');
}

function probeRow({ bare, receiver }: NonNullable<FirstSyncResult['probe']>): string {
  const errors = receiver.non2xx + receiver.timeouts;
  return `| paced 100-user acks while it applies, p99 (p50, max) | ${receiver.p99} ms (${receiver.p50}, ${receiver.max}) against B's ${bare.p99} ms (${bare.p50}, ${bare.max}): **${(receiver.p99 / bare.p99).toFixed(2)}×**; ${count(receiver.requests)} requests${errors > 0 ? `, ${errors} not 200` : ''} |`;
}
