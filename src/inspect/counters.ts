/**
 * @module The overview's numbers, read from the same registry `/metrics` exports, and their values
 * an hour ago (snapshots taken once a minute), so the page shows "since start" and "last hour".
 */
import type { Registry } from 'prom-client';

/** Counter totals by series: `name{label="value",…}` → value. */
export type Totals = Map<string, number>;

const prefix = 'cohort_receiver_';

/** Every counter's series of the registry, summed per label set. */
export async function readTotals(registry: Registry): Promise<Totals> {
  const totals: Totals = new Map();
  for (const metric of await registry.getMetricsAsJSON()) {
    if (String(metric.type) !== 'counter' || !metric.name.startsWith(prefix)) continue;
    for (const { labels, value } of metric.values) {
      totals.set(seriesKey(metric.name.slice(prefix.length), labels), value);
    }
  }
  return totals;
}

/** `batches_total{outcome="accepted",reason=""}`: labels in name order, so lookups are stable. */
export function seriesKey(name: string, labels: Record<string, string | number | undefined> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((label) => `${label}=${JSON.stringify(String(labels[label] ?? ''))}`);
  return `${name}{${parts.join(',')}}`;
}

/** Sums the series of `name` whose labels include `match`. */
export function sum(totals: Totals, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of totals) {
    if (!key.startsWith(`${name}{`)) continue;
    if (
      Object.entries(match).every(([label, wanted]) => key.includes(`${label}=${JSON.stringify(wanted)}`))
    ) {
      total += value;
    }
  }
  return total;
}

/** The label values a counter has been seen with (e.g. each rejection reason, each sink). */
export function labelValues(totals: Totals, name: string, label: string): string[] {
  const values = new Set<string>();
  const pattern = new RegExp(`${label}=("(?:[^"\\\\]|\\\\.)*")`);
  for (const key of totals.keys()) {
    if (!key.startsWith(`${name}{`)) continue;
    const found = pattern.exec(key)?.[1];
    if (found !== undefined) values.add(JSON.parse(found) as string);
  }
  return [...values].sort();
}

/** Totals minus an earlier snapshot of them. */
export function difference(now: Totals, earlier: Totals): Totals {
  const result: Totals = new Map();
  for (const [key, value] of now) result.set(key, value - (earlier.get(key) ?? 0));
  return result;
}

const hourMs = 60 * 60 * 1000;

/** Snapshots of the totals; `baseline()` is the one closest to an hour old (the oldest, at first). */
export function createCounterHistory(options: { read: () => Promise<Totals>; now: () => number }) {
  const snapshots: { at: number; totals: Totals }[] = [];
  return {
    async sample(): Promise<void> {
      const at = options.now();
      snapshots.push({ at, totals: await options.read() });
      // Keep one snapshot older than an hour: the baseline of the window.
      while (snapshots.length > 1 && (snapshots[1] as { at: number }).at <= at - hourMs) snapshots.shift();
    },
    baseline(): { at: number; totals: Totals } | undefined {
      return snapshots[0];
    },
  };
}

export type CounterHistory = ReturnType<typeof createCounterHistory>;
