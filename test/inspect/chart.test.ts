/**
 * The charts rendered in-process: pure SVG from points, and the cohort page over a real memory
 * series store. Hostile names stay text, a gap breaks the line, day and week aggregate minutes.
 */
import { describe, expect, it } from 'vitest';
import { createMemorySeriesStore } from '../../src/inspect/series/memory.ts';
import { type MinutePoint, minuteMs } from '../../src/inspect/series/series.ts';
import {
  ackQuantile,
  bucketize,
  Chart,
  type ChartProps,
  segments,
  totalOf,
  valuesOf,
  windowOf,
} from '../../src/inspect/views/chart.tsx';
import { createInspectorHarness, textOf } from './harness.ts';

const hostile = `<script>alert("x")</script> & 'quoted'`;
const now = Date.UTC(2026, 11, 7, 12, 30, 20);
const hour = windowOf('hour', now);

const render = (props: Partial<ChartProps> & Pick<ChartProps, 'series'>) =>
  String(
    Chart({
      id: 'chart-test',
      title: 'Test chart',
      kind: 'line',
      window: hour,
      times: Array.from({ length: 60 }, (_, index) => hour.from + index * minuteMs),
      yTitle: 'things (count)',
      ...props,
    }),
  );

const count = (html: string, pattern: RegExp) => html.match(pattern)?.length ?? 0;

describe('chart rendering', () => {
  it('escapes hostile names in the title, the legend, the axis title and the points', () => {
    const values = Array.from({ length: 60 }, (_, index) => (index % 2 === 0 ? index + 1 : undefined));
    for (const kind of ['line', 'area', 'bars'] as const) {
      const html = render({
        kind,
        title: `Members of ${hostile}`,
        yTitle: `per ${hostile}`,
        series: [{ label: hostile, tone: 'accent', values }],
      });
      expect(html).not.toContain('<script>');
      expect(html).not.toContain(`"x"`);
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; ');
      // Title for screen readers, the legend entry, the axis title and each point's title.
      expect(html).toMatch(/<title id="chart-test-title">Members of &lt;script&gt;/);
      expect(html).toMatch(
        /<ul class="legend"><li class="tone-accent"><span class="swatch"[^>]*><\/span>&lt;script&gt;/,
      );
      expect(html).toMatch(/class="axis-title"[^>]*>per &lt;script&gt;/);
      expect(count(html, /data-point=""/g)).toBe(30);
    }
  });

  it('draws "no data in this range" instead of an empty box', () => {
    const html = render({
      series: [{ label: 'members', tone: 'accent', values: new Array(60).fill(undefined) }],
    });
    expect(html).toContain('<p class="chart-empty">no data in this range</p>');
    expect(html).not.toContain('<svg');
    expect(html).toContain('<figcaption>Test chart</figcaption>');
  });

  it('breaks the line at a missing minute: two path segments, no line across the gap', () => {
    const values = new Array<number | undefined>(60).fill(undefined);
    values.splice(10, 3, 5, 6, 7);
    values.splice(20, 2, 8, 9);
    expect(segments(values).map((run) => run.map(({ index }) => index))).toEqual([
      [10, 11, 12],
      [20, 21],
    ]);
    const html = render({ series: [{ label: 'backlog', tone: 'accent', values }] });
    const lines = html.match(/<path class="line" d="[^"]*"/g) ?? [];
    expect(lines).toHaveLength(2);
    // Each segment is one move and straight lines: no jump across the gap inside a path.
    for (const line of lines) expect(line.match(/M/g)).toHaveLength(1);
    expect(count(html, /data-point=""/g)).toBe(5);
    const area = render({ kind: 'area', series: [{ label: 'backlog', tone: 'accent', values }] });
    expect(count(area, /<path class="area"/g)).toBe(2);
  });

  it('draws the 1 s and 2 s thresholds, labelled as the Amplitude wait, on a log ack chart', async () => {
    const series = createMemorySeriesStore({ now: () => now });
    // 100 acks in one minute: 60 within 5 ms, 39 within 250 ms, 1 slower than 2 s.
    const minute = hour.from + 30 * minuteMs;
    series.add(minute, { ack_ms_le_5: 60, ack_ms_le_10: 60, ack_ms_le_25: 60, ack_ms_le_50: 60 });
    series.add(minute, { ack_ms_le_100: 60, ack_ms_le_250: 99, ack_ms_le_500: 99, ack_ms_le_1000: 99 });
    series.add(minute, { ack_ms_le_2000: 99, ack_ms_le_5000: 100, ack_ms_le_30000: 100 });
    const names = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 30000].map(
      (bound) => `ack_ms_le_${bound}`,
    );
    const buckets = bucketize(await series.read(names, hour.from, hour.to), names, hour);
    const p50 = ackQuantile(buckets, 0.5);
    const p99 = ackQuantile(buckets, 0.99);
    expect([p50[30], p99[30], p50[29]]).toEqual([5, 250, undefined]);
    const html = render({
      scale: 'log',
      series: [
        { label: 'p50', tone: 'accent', values: p50 },
        { label: 'p99', tone: 'alt', values: p99, dashed: true },
      ],
      thresholds: [
        { value: 1000, label: '1 s' },
        { value: 2000, label: '2 s' },
      ],
      band: { from: 1000, to: 2000, label: 'Amplitude waits 1-2 s' },
    });
    expect(count(html, /<line class="threshold"/g)).toBe(2);
    expect(html).toContain('>1 s</text>');
    expect(html).toContain('>2 s</text>');
    expect(count(html, /Amplitude waits 1-2 s/g)).toBe(2); // on the chart and in the legend
    // Log ticks from 1 ms to 10 s: 5 ms and 2 s both readable.
    expect(html).toContain('>10K</text>');
    expect(html).toContain('time (UTC), per minute');
  });

  it('aggregates minutes into 15-minute and hour buckets: counters add, gauges keep the max, gaps stay gaps', () => {
    const day = windowOf('day', now);
    const week = windowOf('week', now);
    expect([hour.bucketMs, day.bucketMs, week.bucketMs]).toEqual([minuteMs, 15 * minuteMs, 60 * minuteMs]);
    expect((hour.to - hour.from) / hour.bucketMs).toBe(60);
    expect((day.to - day.from) / day.bucketMs).toBe(96);
    expect((week.to - week.from) / week.bucketMs).toBe(168);
    // The current minute is in the last bucket.
    expect(day.to).toBeGreaterThan(now);
    expect(day.to - day.bucketMs).toBeLessThanOrEqual(now);

    const start = day.to - 2 * day.bucketMs; // the last two buckets
    const points: MinutePoint[] = [
      { minute: start, values: { accepted: 2, backlog_batches: 3, 'cohort:a:b:members': 10 } },
      { minute: start + 5 * minuteMs, values: { accepted: 4, backlog_batches: 9, 'cohort:a:b:members': 7 } },
      { minute: start + 14 * minuteMs, values: { accepted: 1, backlog_batches: 1 } },
      { minute: start + 15 * minuteMs, values: { backlog_batches: 2 } },
      // Outside the window: ignored.
      { minute: day.to, values: { accepted: 100 } },
      { minute: day.from - minuteMs, values: { accepted: 100 } },
    ];
    const names = ['accepted', 'backlog_batches', 'cohort:a:b:members'];
    const buckets = bucketize(points, names, day);
    expect(buckets.times).toHaveLength(96);
    expect(valuesOf(buckets, 'accepted').slice(-3)).toEqual([undefined, 7, undefined]);
    expect(valuesOf(buckets, 'backlog_batches').slice(-2)).toEqual([9, 2]);
    expect(valuesOf(buckets, 'cohort:a:b:members').slice(-2)).toEqual([10, undefined]);
    expect(totalOf(buckets, 'accepted')).toBe(7);
    const bars = String(
      Chart({
        id: 'chart-day',
        title: 'Traffic',
        kind: 'bars',
        window: day,
        times: buckets.times,
        yTitle: 'batches per 15 minutes',
        series: [{ label: 'accepted', tone: 'ok', values: valuesOf(buckets, 'accepted') }],
      }),
    );
    expect(count(bars, /<rect class="bar" data-point=""/g)).toBe(1);
    expect(bars).toContain('time (UTC), per 15 minutes');
  });
});

describe('chart pages with a hostile cohort', () => {
  it('the cohort page draws members and entered / left, its id and name escaped everywhere', async () => {
    const series = createMemorySeriesStore({ now: () => h.now() });
    const h = createInspectorHarness({ series });
    const { cookie } = await h.login();
    const cohortId = `c"1&<b>`;
    await h.store.applyBatch(h.batch({ cohortId, cohortName: hostile }));
    const minute = Math.floor(h.now() / minuteMs) * minuteMs;
    series.raise(minute - 2 * minuteMs, { [`cohort:${cohortId}:members`]: 1 });
    series.raise(minute, { [`cohort:${cohortId}:members`]: 2 });
    series.add(minute, { [`cohort:${cohortId}:entered`]: 2, [`cohort:${cohortId}:left`]: 1 });
    await series.flush();
    const html = await textOf(
      await h.request(`/inspect/cohort?id=${encodeURIComponent(cohortId)}`, { cookie }),
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('&<b>');
    expect(html).toContain('id="chart-members"');
    expect(html).toContain('id="chart-entered-left"');
    const members = html.slice(html.indexOf('id="chart-members"'), html.indexOf('id="chart-entered-left"'));
    expect(count(members, /data-point=""/g)).toBe(2);
    // A gap at the missing minute between the two values.
    expect(count(members, /<path class="line"/g)).toBe(2);
    const enteredLeft = html.slice(html.indexOf('id="chart-entered-left"'));
    expect(count(enteredLeft, /<rect class="bar" data-point=""/g)).toBe(2);
    // The range chooser keeps the escaped id in its links.
    expect(html).toContain(
      `/inspect/cohort?id=${encodeURIComponent(cohortId).replaceAll('&', '&amp;')}&amp;range=day`,
    );
    const week = await textOf(
      await h.request(`/inspect/cohort?id=${encodeURIComponent(cohortId)}&range=week`, { cookie }),
    );
    expect(week).toContain('time (UTC), per hour');
  });

  it('pages without a series store say why there are no charts', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    await h.store.applyBatch(h.batch());
    for (const path of ['/inspect', '/inspect/cohort?id=c1']) {
      const html = await textOf(await h.request(path, { cookie }));
      expect(html).toContain('id="no-charts"');
      expect(html).toContain('No charts: this inspector keeps no time series');
      expect(html).not.toContain('data-point');
    }
  });

  it('the overview lists a sink with failed changes in the last 15 minutes, not older ones', async () => {
    const series = createMemorySeriesStore({ now: () => h.now() });
    const h = createInspectorHarness({ series });
    const { cookie } = await h.login();
    // Without sink control, the sinks are those this process has handed changes to.
    h.metrics.sinkChanges.inc({ sink: 'crm', outcome: 'delivered' }, 1);
    h.metrics.sinkChanges.inc({ sink: 'old', outcome: 'delivered' }, 1);
    const minute = Math.floor(h.now() / minuteMs) * minuteMs;
    series.add(minute - 14 * minuteMs, { 'sink:crm:failed': 2 });
    series.add(minute, { 'sink:crm:failed': 1 });
    series.add(minute - 15 * minuteMs, { 'sink:old:failed': 5 });
    await series.flush();
    const html = await textOf(await h.request('/inspect', { cookie }));
    const section = html.slice(html.indexOf('<section'), html.indexOf('</section>'));
    expect(section).toContain(
      '<li data-attention="sink-failing"><b>Sink crm: 3 failed changes</b> in the last 15 minutes.',
    );
    expect(section).not.toContain('Sink old');
    expect(section).not.toContain('All clear');
    // The failures also show in the totals of the range.
    expect(html).toMatch(/<td>sink old: failed changes<\/td><td class="num">5<\/td>/);
  });

  it('the overview draws traffic, ack, backlog and lag and totals the range from the series', async () => {
    const series = createMemorySeriesStore({ now: () => h.now() });
    const h = createInspectorHarness({ series });
    const { cookie } = await h.login();
    const minute = Math.floor(h.now() / minuteMs) * minuteMs;
    series.add(minute - minuteMs, {
      received: 3,
      accepted: 2,
      rejected: 1,
      ack_ms_le_5: 3,
      ack_ms_le_30000: 3,
    });
    series.add(minute, { received: 1, duplicate: 1, ack_ms_le_5: 1, ack_ms_le_30000: 1 });
    series.add(minute, { applied_batches: 2, apply_lag_ms_sum: 30, applied_users: 4, entered: 4 });
    series.raise(minute, { backlog_batches: 1, oldest_waiting_ms: 1500, apply_lag_ms_max: 20 });
    await series.flush();
    const html = await textOf(await h.request('/inspect?range=day', { cookie }));
    for (const id of ['chart-traffic', 'chart-ack', 'chart-backlog', 'chart-oldest', 'chart-lag']) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(count(html, /data-point=""/g)).toBeGreaterThan(0);
    expect(html).toMatch(/<td>accepted<\/td><td class="num">2<\/td><\/tr>/);
    expect(html).toMatch(/<td>received batches<\/td><td class="num">4<\/td><\/tr>/);
    expect(html).toContain('<a href="/inspect?range=day" aria-current="true">last day</a>');
    expect(html).toContain('This process since start (resets on restart)');
  });
});
