/**
 * Observability that matches the code: every series the README names is exported and every
 * `cohort_receiver_*` series exported is in the README with a meaning; every metric in
 * `ops/alerts.yml` is one a real receiver exports (scraped after traffic, so histograms have series).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { amplitudeBody, startTestReceiver, type TestReceiver } from './receiver.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const alerts = readFileSync(new URL('../../ops/alerts.yml', import.meta.url), 'utf8');

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

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
function metricNames(expression: string): string[] {
  const keywords = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'bool',
    'and',
    'or',
  ]);
  const stripped = expression
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)/g)) {
    const isFunctionCall = match[1] !== undefined;
    if (!isFunctionCall && !keywords.has(match[0]) && !/^(?:unless|offset|inf|nan)$/i.test(match[0])) {
      names.push(match[0]);
    }
  }
  return names;
}

/** The `expr:` of each rule, single-line or folded (`>-` / `|`) block. */
function expressions(yaml: string): { alert: string; expr: string }[] {
  const rules: { alert: string; expr: string }[] = [];
  const lines = yaml.split('\n');
  let alert = '';
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    alert = /^\s*- alert: *(\S+)/.exec(line)?.[1] ?? alert;
    const expr = /^(\s*)expr: *(.*)$/.exec(line);
    if (!expr) continue;
    let text = expr[2] ?? '';
    if (/^[>|]-?$/.test(text)) {
      text = '';
      const indent = (expr[1] ?? '').length;
      while (index + 1 < lines.length && (lines[index + 1]?.search(/\S/) ?? 0) > indent) {
        index += 1;
        text += ` ${lines[index]?.trim()}`;
      }
    }
    rules.push({ alert, expr: text.trim() });
  }
  return rules;
}

describe('metrics and the README', () => {
  const documented = [...readme.matchAll(/`((?:cohort_receiver|nodejs|process)_[a-z0-9_]+)/g)].map(
    (m) => m[1] ?? '',
  );

  it('documents every cohort_receiver_* series the receiver exports', () => {
    const ours = [...families].filter((name) => name.startsWith('cohort_receiver_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('names only series that exist, each in a table row that says what it means', () => {
    expect(documented.filter((name) => !exported.has(name))).toEqual([]);
    for (const name of new Set(documented.filter((n) => n.startsWith('cohort_receiver_')))) {
      const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${name}`));
      expect(row, `no table row for ${name}`).toBeDefined();
      const meaning = row?.split('|').at(-2)?.trim() ?? '';
      expect(meaning.length, `no meaning for ${name}`).toBeGreaterThan(5);
    }
  });

  it('names every configuration variable', () => {
    // Most sit in the Configuration table; a few (the sinks') are explained in a section of their own.
    const missing = Object.keys(loadConfig({})).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('ops/alerts.yml', () => {
  const rules = expressions(alerts);

  it('has the rules operators need', () => {
    const all = rules.map((rule) => rule.expr).join('\n');
    expect(all).toMatch(/histogram_quantile\(0\.99,.*cohort_receiver_ack_duration_seconds_bucket/);
    expect(all).toMatch(/cohort_receiver_queue_users \/ cohort_receiver_queue_max_users\) > 0\.8/);
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
