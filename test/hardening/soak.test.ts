/**
 * The 20-second soak that CI runs (`npm run soak` runs 10 minutes by default). It asserts the run
 * produced a complete report and the receiver stayed up and exited cleanly; never how fast it was.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSoakOptions } from '../../soak/options.ts';
import { formatSoakReport, isComplete, soakTrends } from '../../soak/report.ts';
import { runSoak } from '../../soak/run-soak.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `soak/cli.ts` as `npm run soak` does. */
function soak(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'soak/cli.ts', ...args],
      { cwd: root },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run soak', () => {
  it.each(['--help', '-h'])('prints its usage for %s and exits 0, starting nothing', async (flag) => {
    const { code, stdout, stderr } = await soak([flag]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run soak -- \[options\]/);
    expect(stdout).toContain('--minutes N');
    expect(stdout).not.toContain('soak:');
  });

  it('exits 2 on an unknown option, naming it, with the usage', async () => {
    const { code, stderr } = await soak(['--nope']);
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--nope'");
    expect(stderr).toContain('Usage: npm run soak');
  });

  it('holds a steady load for 20 s and reports memory, event-loop delay and latency over time', async () => {
    const options = parseSoakOptions(['--seconds', '20', '--rate', '10', '--users', '200']);
    expect(options.sampleSeconds).toBe(2);
    const seen: number[] = [];
    const report = await runSoak(options, (sample) => seen.push(sample.atSeconds));

    expect(report.receiver).toEqual({ stayedUp: true, exitCode: 0, logPath: null });
    expect(report.drain.drained).toBe(true);
    expect(isComplete(report)).toBe(true);
    expect(seen.length).toBe(report.samples.length);
    expect(report.samples.filter((sample) => sample.requests > 0).length).toBeGreaterThanOrEqual(5);
    expect(report.totals.requests).toBeGreaterThan(0);
    expect(report.totals.errors).toBe(0);
    expect(report.totals.requests + report.totals.skipped).toBe(200);

    const trends = soakTrends(report.samples);
    expect(trends.heapMiBPerMinute).not.toBeNull();
    expect(trends.rssMiB?.max).toBeGreaterThan(0);
    const text = formatSoakReport(report);
    for (const line of [
      'RSS MiB: first',
      'heap MiB: first',
      'ack latency p99',
      'event-loop delay p99',
      'stayed up',
    ]) {
      expect(text).toContain(line);
    }
  }, 120_000);

  it('refuses a bad option with a message naming it', () => {
    expect(() => parseSoakOptions(['--rate', 'fast'])).toThrow(
      'Expected --rate to be a positive number, got `fast`',
    );
    expect(() => parseSoakOptions(['--minutes', '1', '--seconds', '5'])).toThrow('not both');
    expect(() => parseSoakOptions(['--env', 'lowercase=1'])).toThrow('Expected --env KEY=VALUE');
    expect(parseSoakOptions([]).durationSeconds).toBe(600);
  });
});
