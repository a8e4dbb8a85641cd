/**
 * ops/grafana-dashboard.json against a real receiver: every panel has a title and a query, every
 * query names series a fresh receiver (SINKS=log, so the sink series exist) declares on /metrics
 * with the label values its selectors ask for, and every query parses as PromQL under promtool.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestReceiver, type TestReceiver } from '../hardening/receiver.ts';
import { createTempDir } from '../support/tmp.ts';
import { metricNames, selectedLabelSets } from './alert-rules.ts';

interface Target {
  expr?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: { value: number | null }[] } } };
  options?: { legend?: { showLegend?: boolean } };
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboardPath = fileURLToPath(new URL('../../ops/grafana-dashboard.json', import.meta.url));
const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
/** Every panel in order, those nested in collapsed rows included; rows themselves left out. */
const panels = dashboard.panels
  .flatMap((panel) => [panel, ...(panel.panels ?? [])])
  .filter((p) => p.type !== 'row');
const queries = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title ?? '?', expr: target.expr ?? '' })),
);
const variableQuery = (variable: Variable) =>
  typeof variable.query === 'string' ? variable.query : variable.query.query;

/** A query as Prometheus would receive it from Grafana: its variables filled in. */
const expanded = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?(\w+)\}?/g, '.+');

const run = promisify(execFile);
async function promtool(args: string[], cwd: string) {
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

/**
 * Parses each expression with promtool: `promql format` where it exists (2.43+); Debian's 2.42 has
 * none, so there the expressions go in a file of recording rules that `check rules` parses.
 */
async function promtoolParse(exprs: string[]): Promise<{ code: number | string; output: string }> {
  const dir = await createTempDir('grafana');
  try {
    const help = await promtool(['--help-long'], dir.path);
    if (/^\s*promql format/m.test(help.output)) {
      // Newer promtools keep the promql commands behind --experimental.
      const flags = /--experimental/.test(help.output) ? ['--experimental'] : [];
      const outputs = [];
      for (const expr of exprs) {
        const result = await promtool([...flags, 'promql', 'format', expanded(expr)], dir.path);
        if (result.code !== 0) return { code: result.code, output: `${expr}: ${result.output}` };
        outputs.push(result.output);
      }
      return { code: 0, output: outputs.join('') };
    }
    // JSON is YAML, and JSON.stringify quotes each expression safely.
    const rules = exprs.map((expr, index) => ({ record: `dashboard:query_${index}`, expr: expanded(expr) }));
    await writeFile(join(dir.path, 'rules.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    return await promtool(['check', 'rules', 'rules.yml'], dir.path);
  } finally {
    await dir.remove();
  }
}

/** Whether (), {} and [] nest properly outside string literals: a quick check beside promtool's. */
function balanced(expr: string): boolean {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  for (const char of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('({['.includes(char)) open.push(char);
    else if (char in pairs && open.pop() !== pairs[char]) return false;
  }
  return open.length === 0;
}

let receiver: TestReceiver;
let scrape: string;
/** Metric families /metrics declares (`# TYPE name type`), samples or not. */
let types: Map<string, string>;
/** The text of each sample's series, `name{label="value",…}`. */
let series: string[];
beforeAll(async () => {
  receiver = await startTestReceiver({ SINKS: 'log' });
  scrape = await (await fetch(`${receiver.url}/metrics`)).text();
  types = new Map(
    [...scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
  series = scrape
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.slice(0, line.lastIndexOf(' ')));
});
afterAll(async () => {
  await receiver?.stop();
});

/** Whether the scrape declares `name`: a family itself, or a histogram's _bucket, _sum or _count. */
function declared(name: string): boolean {
  if (types.has(name)) return true;
  const histogram = /^(.*)_(?:bucket|sum|count)$/.exec(name)?.[1];
  return histogram !== undefined && types.get(histogram) === 'histogram';
}

/** What the queries name that the scrape does not have: unknown metrics, label values with no series. */
function missingFrom(checked: { panel: string; expr: string }[]): string[] {
  const missing: string[] = [];
  for (const { panel, expr } of checked) {
    for (const metric of metricNames(expr)) if (!declared(metric)) missing.push(`${panel}: ${metric}`);
    for (const { metric, labels } of selectedLabelSets(expr)) {
      // Matchers on Grafana variables (`job=~"$job"`) are skipped by selectedLabelSets itself.
      if (Object.keys(labels).length === 0) continue;
      const found = series.some(
        (one) =>
          one.split('{')[0] === metric &&
          Object.entries(labels).every(([label, value]) => one.includes(`${label}="${value}"`)),
      );
      if (!found) missing.push(`${panel}: ${metric}${JSON.stringify(labels)}`);
    }
  }
  return missing;
}

describe('ops/grafana-dashboard.json', () => {
  it('is a dashboard of schema 36 or later with datasource, job and instance variables', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = new Map(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('job')?.type).toBe('query');
    expect(variableQuery(variables.get('job') as Variable)).toMatch(/^label_values\(\w+, *job\)$/);
    expect(variables.get('instance')?.type).toBe('query');
    expect(variableQuery(variables.get('instance') as Variable)).toMatch(
      /^label_values\(\w+\{[^}]*\}, *instance\)$/,
    );
  });

  it('gives every panel a title, a description, a unit, queries on the datasource variable, legends', () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel.title, JSON.stringify(panel)).toBeTruthy();
      expect(panel.description, panel.title).toBeTruthy();
      expect(panel.fieldConfig?.defaults?.unit, panel.title).toMatch(/^(?:s|ms|ops|short)$/);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.expr, panel.title).toBeTruthy();
        expect(target.legendFormat, panel.title).toBeTruthy();
        // Grafana's own syntax for the datasource variable, not a JavaScript placeholder.
        expect(target.datasource?.uid, panel.title).toBe('$' + '{datasource}');
      }
    }
    // Panel ids must be unique, or Grafana's links and edits land on the wrong panel.
    const ids = dashboard.panels
      .flatMap((panel) => [panel, ...(panel.panels ?? [])])
      .map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('leads with a "Needs a person" row of stat panels, then the charts', () => {
    const [first, ...rest] = dashboard.panels;
    expect(first).toMatchObject({ type: 'row', title: 'Needs a person' });
    const nextRow = rest.findIndex((panel) => panel.type === 'row');
    const needs = rest.slice(0, nextRow);
    expect(needs.length).toBeGreaterThanOrEqual(6);
    expect(needs.every((panel) => panel.type === 'stat')).toBe(true);
    expect(rest.slice(nextRow).some((panel) => panel.type === 'timeseries')).toBe(true);
    const ack = panels.find((panel) => /^Ack p50/.test(panel.title ?? ''));
    const steps = ack?.fieldConfig?.defaults?.thresholds?.steps?.map((step) => step.value);
    expect(steps).toEqual([null, 1, 2]);
  });

  it('queries only series a fresh receiver declares, with label values its scrape has', () => {
    expect(queries.length).toBeGreaterThan(15);
    expect(missingFrom(queries)).toEqual([]);
    const variableQueries = dashboard.templating.list
      .filter((variable) => variable.type === 'query')
      .map((variable) => ({
        panel: `$${variable.name}`,
        expr: variableQuery(variable).replace(/, *\w+\)$/, ')'),
      }));
    expect(missingFrom(variableQueries)).toEqual([]);
  });

  it('would catch a misspelt metric or a label value the receiver never exports', () => {
    expect(
      missingFrom([
        { panel: 'a', expr: 'sum(rate(cohort_receiver_batch_total[5m]))' },
        { panel: 'b', expr: 'sum(cohort_receiver_dead_letters_total{kind="held"})' },
        {
          panel: 'c',
          expr: 'histogram_quantile(0.99, sum by (le) (rate(cohort_receiver_ack_duration_seconds_bucket[5m])))',
        },
      ]),
    ).toEqual(['a: cohort_receiver_batch_total', 'b: cohort_receiver_dead_letters_total{"kind":"held"}']);
  });

  it('has queries that parse as PromQL (promtool: `promql format`, else `check rules` on recording rules)', async () => {
    for (const { panel, expr } of queries) expect(balanced(expr), `${panel}: ${expr}`).toBe(true);
    const result = await promtoolParse(queries.map((query) => query.expr));
    expect(result.output).not.toMatch(/FAILED|error/i);
    expect(result.code).toBe(0);
  });

  it('fails the parse check on a broken query: the check has teeth', async () => {
    const broken = 'max by (instance (cohort_receiver_queue_oldest_age_seconds{job=~"$job"})';
    expect(balanced(broken)).toBe(false);
    const result = await promtoolParse([broken]);
    expect(result.code).not.toBe(0);
  });
});
