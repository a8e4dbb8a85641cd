/**
 * ops/alerts.yml through Prometheus's own tool: `promtool check rules` (syntax, PromQL, templates)
 * and `promtool test rules ops/alerts.test.yml` (each alert fires on series that should fire it and
 * stays quiet on series that should not). promtool comes with Debian's `prometheus` package, which
 * .ci/run installs.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createTempDir } from '../support/tmp.ts';
import { alertsYaml } from './alert-rules.ts';

const run = promisify(execFile);
const ops = fileURLToPath(new URL('../../ops/', import.meta.url));
const unitTests = readFileSync(`${ops}alerts.test.yml`, 'utf8');

async function promtool(args: string[], cwd = ops) {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as NodeJS.ErrnoException & {
      code: number | string;
      stdout?: string;
      stderr?: string;
    };
    if (failed.code === 'ENOENT') throw new Error('promtool is not installed: apt-get install prometheus');
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('ops/alerts.yml under promtool', () => {
  it('passes `promtool check rules`', async () => {
    const result = await promtool(['check', 'rules', 'alerts.yml']);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.code).toBe(0);
  });

  it('passes its unit tests, ops/alerts.test.yml', async () => {
    const result = await promtool(['test', 'rules', 'alerts.test.yml']);
    expect(result.output, result.output).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });

  it('unit-tests every alert, both firing and quiet', () => {
    const alerts = [...alertsYaml.matchAll(/^\s*- alert: *(\S+)/gm)].map((match) => match[1]);
    const firing = new Set<string>();
    const quiet = new Set<string>();
    for (const check of unitTests.matchAll(/alertname: *(\S+)\s+exp_alerts:( *\[\])?/g)) {
      (check[2] ? quiet : firing).add(check[1] ?? '');
    }
    expect(alerts.length).toBeGreaterThan(10);
    expect(alerts.filter((alert) => !firing.has(alert as string))).toEqual([]);
    expect(alerts.filter((alert) => !quiet.has(alert as string))).toEqual([]);
  });

  it('fails when an alert no longer fires on its series: the unit tests have teeth', async () => {
    // The same unit tests against the rules with one threshold raised out of reach.
    const dir = await createTempDir('promtool');
    try {
      const raised = alertsYaml.replace(
        'cohort_receiver_queue_oldest_age_seconds) > 60',
        'cohort_receiver_queue_oldest_age_seconds) > 6000',
      );
      expect(raised).not.toBe(alertsYaml);
      await writeFile(join(dir.path, 'alerts.yml'), raised);
      await writeFile(join(dir.path, 'alerts.test.yml'), unitTests);
      const result = await promtool(['test', 'rules', 'alerts.test.yml'], dir.path);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/FAILED[\s\S]*CohortReceiverApplyLagging/);
    } finally {
      await dir.remove();
    }
  });
});
