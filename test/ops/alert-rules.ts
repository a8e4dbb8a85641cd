/** @module Reading ops/alerts.yml without a YAML library: its rules' expressions and the metrics they use. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const alertsPath = fileURLToPath(new URL('../../ops/alerts.yml', import.meta.url));
export const alertsYaml = readFileSync(alertsPath, 'utf8');

/** The `expr:` of each rule, single-line or folded (`>-` / `|`) block. */
export function expressions(yaml: string): { alert: string; expr: string }[] {
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

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
export function metricNames(expression: string): string[] {
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

/**
 * The label sets a selector with matchers asks for: `m{kind="failed"}` asks for kind=failed, and
 * `m{reason=~"a|b"}` for reason=a and reason=b (plain alternations only; other regexes are skipped).
 */
export function selectedLabelSets(expression: string): { metric: string; labels: Record<string, string> }[] {
  const wanted: { metric: string; labels: Record<string, string> }[] = [];
  for (const selector of expression.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    let sets: Record<string, string>[] = [{}];
    for (const [, name, operator, value] of (selector[2] ?? '').matchAll(/(\w+)\s*(=~|=)\s*"([^"]*)"/g)) {
      const values =
        operator === '=' ? [value ?? ''] : /^[\w|]+$/.test(value ?? '') ? (value ?? '').split('|') : [];
      if (values.length === 0) continue;
      sets = sets.flatMap((set) => values.map((one) => ({ ...set, [name as string]: one })));
    }
    for (const labels of sets) wanted.push({ metric: selector[1] ?? '', labels });
  }
  return wanted;
}
