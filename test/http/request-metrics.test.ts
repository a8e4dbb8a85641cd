/**
 * The request counters, fed by the core's events: every scrape shows exact totals, however scrapes
 * and requests interleave.
 */
import { describe, expect, it } from 'vitest';
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
});
