/**
 * A fresh receiver exports every counter the alert rules read, at 0, for each label value: a series
 * born with its first event gives `rate()` and `increase()` nothing to compare that event with, so
 * the first dead letter or 503 after a start would never alert (ops/alerts.test.yml shows it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countThreadStops } from '../../src/apply-thread/extension.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { scrapeMetrics, startTestReceiver, type TestReceiver } from '../hardening/receiver.ts';
import { alertsYaml, expressions, metricNames, selectedLabelSets } from './alert-rules.ts';

let receiver: TestReceiver;
let samples: Map<string, number>;
/** Metrics /metrics declares (`# TYPE`), samples or not. */
let declared: Set<string>;
beforeAll(async () => {
  receiver = await startTestReceiver({ SINKS: 'none' });
  samples = await scrapeMetrics(receiver.url);
  const text = await (await fetch(`${receiver.url}/metrics`)).text();
  declared = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] as string));
});
afterAll(async () => {
  await receiver?.stop();
});

/** The samples of `metric` whose labels include every one of `labels`. */
function matching(metric: string, labels: Record<string, string>): [string, number][] {
  return [...samples].filter(([series]) => {
    const name = series.split('{')[0];
    if (name !== metric) return false;
    return Object.entries(labels).every(([label, value]) => series.includes(`${label}="${value}"`));
  });
}

describe('a receiver that has seen no request', () => {
  it('exports, at 0, every labelled counter series an alert or a dashboard rate() reads', () => {
    const expected = [
      'cohort_receiver_batches_total{outcome="accepted",reason=""}',
      'cohort_receiver_batches_total{outcome="duplicate",reason=""}',
      'cohort_receiver_batches_total{outcome="rejected",reason="invalid_json"}',
      'cohort_receiver_batches_total{outcome="rejected",reason="invalid_payload"}',
      'cohort_receiver_batches_total{outcome="unavailable",reason="queue_full"}',
      'cohort_receiver_batches_total{outcome="unavailable",reason="backend_unavailable"}',
      'cohort_receiver_batches_total{outcome="unavailable",reason="shutting_down"}',
      'cohort_receiver_dead_letters_total{kind="rejected"}',
      'cohort_receiver_dead_letters_total{kind="failed"}',
      'cohort_receiver_dead_letters_total{kind="sink"}',
      'cohort_receiver_client_errors_total{reason="request_timeout"}',
      'cohort_receiver_client_errors_total{reason="headers_too_large"}',
      'cohort_receiver_client_errors_total{reason="bad_request"}',
      'cohort_receiver_client_errors_total{reason="max_connections"}',
      'cohort_receiver_client_errors_total{reason="reset"}',
      'cohort_receiver_users_total{direction="in"}',
      'cohort_receiver_users_total{direction="out"}',
      'cohort_receiver_membership_changes_total{kind="entered"}',
      'cohort_receiver_membership_changes_total{kind="left"}',
      'cohort_receiver_membership_changes_total{kind="updated"}',
      'cohort_receiver_apply_errors_total',
      'cohort_receiver_apply_thread_stops_total',
    ];
    expect(Object.fromEntries(expected.map((series) => [series, samples.get(series)]))).toEqual(
      Object.fromEntries(expected.map((series) => [series, 0])),
    );
  });

  it('has a series for every metric and every label value the rules in ops/alerts.yml select', () => {
    const rules = expressions(alertsYaml);
    expect(rules.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const { alert, expr } of rules) {
      for (const metric of metricNames(expr)) {
        // A gauge of a state (a sink paused since, a cohort held since) has a sample only in that
        // state; declared, its name is right.
        const stateGauge = metric.endsWith('_since_seconds') || metric.endsWith('_held_exit_ratio');
        if (matching(metric, {}).length === 0 && !(stateGauge && declared.has(metric)))
          missing.push(`${alert}: ${metric}`);
      }
      for (const { metric, labels } of selectedLabelSets(expr)) {
        const found = matching(metric, labels);
        if (found.length === 0 && Object.keys(labels).length === 0 && declared.has(metric)) continue;
        if (found.length === 0) missing.push(`${alert}: ${metric}${JSON.stringify(labels)}`);
        // A counter the receiver has not counted yet starts at 0, not at its first event.
        if (metric.endsWith('_total')) for (const [series, value] of found) expect(value, series).toBe(0);
      }
    }
    expect(missing).toEqual([]);
  });

  it('reads label sets out of selectors as PromQL does', () => {
    expect(selectedLabelSets('sum(rate(a_total{kind="x",reason=~"p|q"}[5m])) + b{c!="d"}')).toEqual([
      { metric: 'a_total', labels: { kind: 'x', reason: 'p' } },
      { metric: 'a_total', labels: { kind: 'x', reason: 'q' } },
      { metric: 'b', labels: {} },
    ]);
  });
});

describe('the apply thread stop counter', () => {
  it('reads how often the thread stopped at each scrape, and is absent without a thread', async () => {
    let stops = 0;
    const withThread = createMetrics({ events: createReceiverEvents() });
    countThreadStops(withThread.registry, () => stops);
    const read = async () =>
      (await withThread.registry.metrics()).match(/^cohort_receiver_apply_thread_stops_total (\d+)$/m)?.[1];
    expect(await read()).toBe('0');
    stops = 2;
    expect(await read()).toBe('2');
    expect(await createMetrics({ events: createReceiverEvents() }).registry.metrics()).not.toContain(
      'apply_thread_stops',
    );
  });
});
