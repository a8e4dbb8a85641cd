/**
 * @module Drives wrk (a load generator nobody here wrote) with POST bodies: a Lua script that
 * sends one body per request with a fresh message_id and prints its result as one JSON line.
 * The outside check on the bench's own autocannon numbers (docs/performance-journal.md#outside-measurement-wrk).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Where the per-request id goes in a body; the body's own message_id is replaced by it. */
export const idMarker = '@@WRK_ID@@';

/** The body cut around its message_id: the Lua script sends `prefix .. id .. suffix`. */
export function splitBody(body: string): { prefix: string; suffix: string } {
  const batch = JSON.parse(body) as Record<string, unknown>;
  if (typeof batch.message_id !== 'string')
    throw new TypeError('expected a default-shape body with a message_id');
  const marked = JSON.stringify({ ...batch, message_id: idMarker });
  const at = marked.indexOf(idMarker);
  return { prefix: marked.slice(0, at), suffix: marked.slice(at + idMarker.length) };
}

/**
 * wrk's Lua side. Arguments: prefix file, suffix file, run id, then `Name: value` headers. Each
 * thread numbers its requests, so every message_id in a run is new and nothing is a duplicate.
 * `done` prints the figures as a line starting `WRK_JSON `; no `response` hook, which would slow wrk.
 */
export const wrkScript = `
local counter, prefix, suffix, runId = 0, '', '', ''
local headers = { ['Content-Type'] = 'application/json' }
local threadCount = 0
function setup(thread)
  threadCount = threadCount + 1
  thread:set('tid', threadCount)
end
local function slurp(path)
  local file = assert(io.open(path, 'rb'))
  local text = file:read('*a')
  file:close()
  return text
end
function init(args)
  prefix, suffix, runId = slurp(args[1]), slurp(args[2]), args[3]
  for i = 4, #args do
    local name, value = args[i]:match('^([^:]+):%s*(.*)$')
    headers[name] = value
  end
end
function request()
  counter = counter + 1
  return wrk.format('POST', nil, headers, prefix .. runId .. '-' .. tid .. '-' .. counter .. suffix)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export interface WrkResult {
  requests: number;
  durationUs: number;
  /** Answers outside 2xx/3xx. */
  non2xx: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

/** Successful requests per second (non-2xx answers do not count). */
export const requestsPerSecond = (result: WrkResult) =>
  ((result.requests - result.non2xx) * 1e6) / Math.max(1, result.durationUs);

/** The `WRK_JSON` line of wrk's output. @throws Error when wrk printed none (it failed). */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((text) => text.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('WRK_JSON '.length)) as WrkResult;
}

export interface WrkRun {
  url: string;
  connections: number;
  seconds: number;
  scriptPath: string;
  prefixPath: string;
  suffixPath: string;
  runId: string;
  headers: string[];
  /** Pin wrk to this CPU list (taskset -c), away from the servers. */
  cpus?: string | undefined;
}

const execFileAsync = promisify(execFile);

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const wrk = [
    'wrk',
    '--threads',
    '1',
    '--connections',
    String(run.connections),
    '--duration',
    `${run.seconds}s`,
    '--timeout',
    '2s',
    '--script',
    run.scriptPath,
    run.url,
    '--',
    run.prefixPath,
    run.suffixPath,
    run.runId,
    ...run.headers,
  ];
  const [command, ...args] = run.cpus ? ['taskset', '-c', run.cpus, ...wrk] : wrk;
  const { stdout } = await execFileAsync(command as string, args, { maxBuffer: 1024 * 1024 });
  return parseWrkOutput(stdout);
}
