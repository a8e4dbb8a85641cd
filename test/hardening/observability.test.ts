/**
 * Observability that matches the code: every series the docs name is exported and every
 * `cohort_receiver_*` series exported is in docs/operations.md's metrics table with a meaning; every
 * configuration variable is in the README; every metric in `ops/alerts.yml` is one a real receiver
 * exports (scraped after traffic, so histograms have series).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsYaml as alerts, expressions, metricNames } from '../ops/alert-rules.ts';
import { buildVariables } from '../support/offered.ts';
import { amplitudeBody, startTestReceiver, type TestReceiver } from './receiver.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const operations = read('docs/operations.md');
/** The README and every page of docs/: wherever a series is named, it must exist. */
const allDocs = [
  readme,
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((name) => name.endsWith('.md'))
    .map((name) => read(`docs/${name}`)),
].join('\n');

let receiver: TestReceiver;
/** Every name a scrape shows: families (`# TYPE`) and sample names (`_bucket`, `_sum`, `_count`…). */
const exported = new Set<string>();
const families = new Set<string>();

beforeAll(async () => {
  receiver = await startTestReceiver({ SINKS: 'none' });
  const post = (body: string) => fetch(`${receiver.url}/webhook`, { method: 'POST', body });
  await post(amplitudeBody('observed-1', ['u1', 'u2']));
  await post(amplitudeBody('observed-1', ['u1', 'u2']));
  await post('{"not json');
  await post('{"users": 5}');
  await receiver.settle();
  const text = await (await fetch(`${receiver.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const family = /^# TYPE (\S+) /.exec(line)?.[1];
    if (family) families.add(family);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)?.[1];
    if (sample && !line.startsWith('#')) exported.add(sample);
  }
  for (const family of families) exported.add(family);
});
afterAll(async () => {
  await receiver?.stop();
});

describe('metrics and the docs', () => {
  const seriesNamed = (text: string) =>
    [...text.matchAll(/`((?:cohort_receiver|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1] ?? '');
  const documented = seriesNamed(allDocs);

  it('documents every cohort_receiver_* series the receiver exports in docs/operations.md', () => {
    const ours = [...families].filter((name) => name.startsWith('cohort_receiver_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !seriesNamed(operations).includes(name))).toEqual([]);
  });

  it('names only series that exist, each in a table row that says what it means', () => {
    expect(documented.filter((name) => !exported.has(name))).toEqual([]);
    for (const name of new Set(documented.filter((n) => n.startsWith('cohort_receiver_')))) {
      const row = operations.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${name}`));
      expect(row, `no table row for ${name}`).toBeDefined();
      const meaning = row?.split('|').at(-2)?.trim() ?? '';
      expect(meaning.length, `no meaning for ${name}`).toBeGreaterThan(5);
    }
  });

  it('names every configuration variable', () => {
    // Most sit in the Configuration table; a few (the sinks') are explained in a section of their own.
    const variables = [...buildVariables()];
    expect(variables).toContain('SQLITE_PATH');
    const missing = variables.filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('ops/alerts.yml', () => {
  const rules = expressions(alerts);

  it('has the rules operators need', () => {
    const all = rules.map((rule) => rule.expr).join('\n');
    expect(all).toMatch(/histogram_quantile\(0\.99,.*cohort_receiver_ack_duration_seconds_bucket/);
    expect(all).toMatch(/max by \(instance\) \(cohort_receiver_queue_fullness\) > 0\.8/);
    expect(all).toMatch(/cohort_receiver_dead_letters_total\{kind="failed"\}/);
    expect(all).toMatch(/cohort_receiver_queue_oldest_age_seconds\) > 60/);
    expect(alerts.match(/^\s*- alert:/gm)?.length).toBe(rules.length);
  });

  it('uses only metrics a real receiver exports', () => {
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      expect(
        names.filter((name) => !exported.has(name)),
        rule.alert,
      ).toEqual([]);
    }
  });

  it('extracts metric names the way PromQL reads them', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{x="y"}[5m]))) > 0.5 and on (instance) b offset 5m',
      ),
    ).toEqual(['a_bucket', 'b']);
  });
});
