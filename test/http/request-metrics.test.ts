/**
 * The request counters count in cells folded into prom-client when read: every scrape (and every
 * `get()`) must show exact totals, however reads and requests interleave.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { amplitudeBatch, createHarness } from './app-harness.ts';

const seriesValue = (text: string, series: string) => {
  const line = text.split('\n').find((row) => row.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('request counters', () => {
  it('show exact totals at every scrape, with requests between the scrapes', async () => {
    const harness = createHarness({ consume: false });
    const scrape = async () => {
      const text = await harness.metrics.registry.metrics();
      return {
        requests: seriesValue(text, 'cohort_receiver_http_requests_total{route="/webhook",status="200"}'),
        accepted: seriesValue(text, 'cohort_receiver_batches_total{outcome="accepted",reason=""}'),
        duplicates: seriesValue(text, 'cohort_receiver_batches_total{outcome="duplicate",reason=""}'),
        usersIn: seriesValue(text, 'cohort_receiver_users_total{direction="in"}'),
        invalid: seriesValue(text, 'cohort_receiver_http_requests_total{route="/webhook",status="422"}'),
      };
    };
    expect(await scrape()).toMatchObject({ accepted: 0, duplicates: 0, usersIn: 0 });
    const first = amplitudeBatch();
    await harness.post(first);
    await harness.post(amplitudeBatch());
    expect(await scrape()).toMatchObject({ requests: 2, accepted: 2, duplicates: 0, usersIn: 4 });
    // Read twice with nothing between: a fold that re-added what it had folded would show here.
    expect(await scrape()).toMatchObject({ requests: 2, accepted: 2, usersIn: 4 });
    await harness.post(first);
    await harness.post(amplitudeBatch({ in_cohort: 'yes' }));
    expect(await scrape()).toMatchObject({
      requests: 3,
      accepted: 2,
      duplicates: 1,
      usersIn: 4,
      invalid: 1,
    });
  });

  it('give the same totals through get() as through the registry', async () => {
    const metrics = createMetrics();
    metrics.batches.inc({ outcome: 'accepted', reason: '' });
    metrics.batches.inc({ outcome: 'accepted', reason: '' }, 4);
    metrics.batches.inc({ outcome: 'rejected', reason: 'invalid_json' });
    const values = (await metrics.batches.get()).values;
    const countOf = (outcome: string, reason: string) =>
      values.find((value) => value.labels.outcome === outcome && value.labels.reason === reason)?.value;
    expect(countOf('accepted', '')).toBe(5);
    expect(countOf('rejected', 'invalid_json')).toBe(1);
    expect(await metrics.registry.metrics()).toContain(
      'cohort_receiver_batches_total{outcome="accepted",reason=""} 5',
    );
  });

  it('still refuses what prom-client refuses: an unknown label, a negative or infinite value', () => {
    const metrics = createMetrics();
    expect(() => metrics.users.inc({ direction: 'in', colour: 'red' } as never)).toThrow();
    expect(() => metrics.users.inc({ direction: 'in' }, -1)).toThrow();
    expect(() => metrics.users.inc({ direction: 'in' }, Number.POSITIVE_INFINITY)).toThrow();
  });
});
