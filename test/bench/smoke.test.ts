/**
 * One short run of the whole bench (`bench/cli.ts`, as `npm run bench` starts it) against the
 * built-in receiver: it checks the result file is complete and well-formed, never a timing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const latency = z.object({
  count: z.number().int().positive(),
  mean: z.number().positive(),
  p50: z.number().positive(),
  p90: z.number().positive(),
  p99: z.number().positive(),
  p999: z.number().positive(),
  max: z.number().positive(),
});
const server = z.object({
  runs: z.literal(1),
  seconds: z.number().positive(),
  responses: z.number().int().positive(),
  ok: z.number().int().nonnegative(),
  non2xx: z.number().int().nonnegative(),
  statusCodes: z.record(z.string().regex(/^\d{3}$/), z.number().int().positive()),
  timeouts: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  requestsPerSecond: z.number().nonnegative(),
  usersPerSecond: z.number().nonnegative(),
  bytesPerSecond: z.number().nonnegative(),
  latency,
  spectrum: z.array(z.object({ quantile: z.number().min(0).max(1), ms: z.number().positive() })).min(2),
});
const mode = z.object({
  mode: z.enum(['saturate', 'paced']),
  rate: z.number().positive().nullable(),
  target: server,
  baseline: server,
  ratios: z.object({
    requestsPerSecond: z.number().positive(),
    p50: z.number().positive(),
    p99: z.number().positive(),
    rounds: z
      .array(z.object({ round: z.literal(1), requestsPerSecond: z.number(), p99: z.number() }))
      .length(1),
  }),
  apply: z.object({
    acceptedUsers: z.number().int().positive(),
    appliedUsers: z.number().int().positive(),
    unappliedUsers: z.literal(0),
    drained: z.literal(true),
    lagP50Seconds: z.number().nonnegative(),
    lagP99Seconds: z.number().nonnegative(),
    drainUsersPerSecond: z.number().positive().nullable(),
    unavailable: z.record(z.string(), z.number()),
  }),
});
const resultSchema = z.object({
  schema: z.literal('cohort-receiver-bench/1'),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  command: z.string().startsWith('npm run bench -- '),
  machine: z.object({
    cpus: z.number().int().positive(),
    cpuModel: z.string(),
    node: z.string().startsWith('v'),
  }),
  target: z.object({
    kind: z.literal('built-in'),
    url: z.url(),
    env: z.object({ QUEUE: z.literal('memory'), STORE: z.literal('sqlite'), ROLE: z.literal('all') }),
    pinnedCpu: z.null(),
  }),
  traffic: z.object({
    usersPerBody: z.literal(10),
    meanBodyBytes: z.number().positive(),
    shape: z.literal('default'),
  }),
  load: z.object({ connections: z.literal(2), rounds: z.literal(1), timeoutMs: z.literal(2000) }),
  generator: z.object({ bodies: z.number().int().positive(), microsecondsPerBody: z.number().nonnegative() }),
  modes: z.tuple([
    mode.extend({ mode: z.literal('saturate') }),
    mode.extend({ mode: z.literal('paced'), rate: z.literal(20) }),
  ]),
  bareApply: z.object({
    users: z.number().int().positive(),
    batches: z.number().int().positive(),
    usersPerSecond: z.number().positive(),
    ratio: z.number().positive().nullable(),
  }),
  verdict: z.object({
    pass: z.boolean(),
    basis: z.literal('paced at 20 req/s'),
    checks: z.array(z.object({ name: z.string(), pass: z.boolean(), detail: z.string() })).length(4),
  }),
  budget: z.object({ p99Ms: z.literal(1000), timeoutMs: z.literal(2000) }),
  notes: z.array(z.string()),
});

describe('npm run bench (smoke)', () => {
  let directory: string;
  let outcome: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    const args = [
      ...['--import', 'tsx', 'bench/cli.ts'],
      ...['--users', '10', '--connections', '2', '--duration', '1', '--rounds', '1', '--warmup', '0'],
      ...['--rate', '20', '--mode', 'both', '--e2e', '--no-pin'],
      ...['--json', join(directory, 'result.json'), '--chart', join(directory, 'latency.svg')],
    ];
    try {
      const { stdout, stderr } = await run(process.execPath, args, { cwd: root, timeout: 90_000 });
      outcome = { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      outcome = { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }, 120_000);

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('exits with the verdict (0 PASS, 1 FAIL), never a crash', () => {
    expect([0, 1], outcome.stderr).toContain(outcome.code);
  });

  it('writes a complete, well-formed JSON result', async () => {
    const result = JSON.parse(await readFile(join(directory, 'result.json'), 'utf8'));
    const parsed = resultSchema.safeParse(result);
    expect(parsed.success ? '' : z.prettifyError(parsed.error)).toBe('');
    expect(result.verdict.pass).toBe(outcome.code === 0);
  });

  it('writes an SVG chart of target vs baseline and prints the report', async () => {
    const svg = await readFile(join(directory, 'latency.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(outcome.stdout).toMatch(/^verdict: (PASS|FAIL) \(paced at 20 req\/s\)/m);
    // Not a terminal: no progress bar escapes in the output.
    expect(outcome.stdout).not.toContain('\x1b[');
  });
});
