/**
 * @module Charts as server-rendered SVG: pure functions from per-minute points (the SeriesStore
 * port) to buckets, and from buckets to a line, area or stacked-bar chart. Every outside value
 * (cohort names, sink names) goes through JSX, which escapes it; no script, so the CSP holds.
 */
import type { Child } from 'hono/jsx';
import { formatCount } from '../format.ts';
import { ackBucketNames, ackPercentile } from '../series/percentile.ts';
import { type MinutePoint, minuteMs, minuteOf, type SeriesStore } from '../series/series.ts';

export type Range = 'hour' | 'day' | 'week';

const hourMs = 60 * minuteMs;
const dayMs = 24 * hourMs;

/** Day and week aggregate minutes into coarser buckets, so no chart has 10,080 bars. */
export const ranges: Record<Range, { label: string; spanMs: number; bucketMs: number; per: string }> = {
  hour: { label: 'last hour', spanMs: hourMs, bucketMs: minuteMs, per: 'per minute' },
  day: { label: 'last day', spanMs: dayMs, bucketMs: 15 * minuteMs, per: 'per 15 minutes' },
  week: { label: 'last week', spanMs: 7 * dayMs, bucketMs: hourMs, per: 'per hour' },
};

export const parseRange = (value: string | undefined): Range =>
  value === 'day' || value === 'week' ? value : 'hour';

export interface ChartWindow {
  range: Range;
  /** Epoch ms, the first bucket's start. */
  from: number;
  /** Epoch ms, the end of the last bucket (which holds the current minute). */
  to: number;
  bucketMs: number;
}

/** The window of a range ending with the bucket that holds the current minute. */
export function windowOf(range: Range, now: number): ChartWindow {
  const { spanMs, bucketMs } = ranges[range];
  const to = Math.ceil((minuteOf(now) + minuteMs) / bucketMs) * bucketMs;
  return { range, from: to - spanMs, to, bucketMs };
}

/** Gauges keep the largest value of a bucket (the worst is what a person needs); counters add up. */
export function isGauge(name: string): boolean {
  if (
    name === 'backlog_batches' ||
    name === 'backlog_users' ||
    name === 'oldest_waiting_ms' ||
    name === 'apply_lag_ms_max'
  ) {
    return true;
  }
  return (
    (name.startsWith('sink:') && name.endsWith(':waiting')) ||
    (name.startsWith('cohort:') && name.endsWith(':members'))
  );
}

/** Per name, one value per bucket; undefined where no minute of the bucket had one (a gap, not 0). */
export interface Buckets {
  window: ChartWindow;
  times: number[];
  values: Map<string, (number | undefined)[]>;
}

/** Sums counters and takes the max of gauges over each bucket's minutes. */
export function bucketize(
  points: readonly MinutePoint[],
  names: readonly string[],
  window: ChartWindow,
): Buckets {
  const count = Math.round((window.to - window.from) / window.bucketMs);
  const times = Array.from({ length: count }, (_, index) => window.from + index * window.bucketMs);
  const values = new Map<string, (number | undefined)[]>();
  for (const name of names) values.set(name, new Array<number | undefined>(count).fill(undefined));
  for (const point of points) {
    if (point.minute < window.from || point.minute >= window.to) continue;
    const index = Math.floor((point.minute - window.from) / window.bucketMs);
    for (const name of names) {
      const value = point.values[name];
      if (value === undefined || !Number.isFinite(value)) continue;
      const row = values.get(name) as (number | undefined)[];
      const current = row[index];
      row[index] = current === undefined ? value : isGauge(name) ? Math.max(current, value) : current + value;
    }
  }
  return { window, times, values };
}

/** Reads `names` over the window and buckets them. */
export async function readBuckets(
  series: SeriesStore,
  names: readonly string[],
  window: ChartWindow,
): Promise<Buckets> {
  return bucketize(await series.read(names, window.from, window.to), names, window);
}

export const valuesOf = (buckets: Buckets, name: string): (number | undefined)[] =>
  buckets.values.get(name) ?? buckets.times.map(() => undefined);

/** A counter's total over the whole window (0 when it has no value at all). */
export const totalOf = (buckets: Buckets, name: string): number =>
  valuesOf(buckets, name).reduce<number>((sum, value) => sum + (value ?? 0), 0);

/** The ack histogram's series names, one per bucket bound. */
export const ackNames: readonly string[] = ackBucketNames;

/**
 * The q-quantile (0.5, 0.99) of the ack time per bucket from the cumulative `ack_ms_le_<bound>`
 * counts summed over the bucket's minutes: the upper bound it falls in; undefined where no ack was counted.
 */
export function ackQuantile(buckets: Buckets, q: number): (number | undefined)[] {
  const rows = ackNames.map((name) => [name, valuesOf(buckets, name)] as const);
  return buckets.times.map((_, index) => {
    const values: Record<string, number> = {};
    for (const [name, row] of rows) {
      const value = row[index];
      if (value !== undefined) values[name] = value;
    }
    return ackPercentile(values, q);
  });
}

/** sum / count per bucket (e.g. the mean apply lag); undefined where count is 0 or missing. */
export function ratioOf(buckets: Buckets, sumName: string, countName: string): (number | undefined)[] {
  const sums = valuesOf(buckets, sumName);
  return valuesOf(buckets, countName).map((count, index) => {
    const sum = sums[index];
    return count === undefined || count <= 0 || sum === undefined ? undefined : sum / count;
  });
}

export const scaleValues = (values: readonly (number | undefined)[], divisor: number) =>
  values.map((value) => (value === undefined ? undefined : value / divisor));

/** The unit a duration chart reads best in, from its largest value (ms). */
export function durationUnit(values: readonly (number | undefined)[][]): { unit: string; divisor: number } {
  const max = Math.max(0, ...values.flat().filter((value): value is number => value !== undefined));
  if (max >= 2 * hourMs) return { unit: 'h', divisor: hourMs };
  if (max >= 2 * minuteMs) return { unit: 'min', divisor: minuteMs };
  if (max >= 2000) return { unit: 's', divisor: 1000 };
  return { unit: 'ms', divisor: 1 };
}

/** Colours come from the stylesheet's `.tone-*` classes; the legend also names every series. */
export type Tone = 'ok' | 'muted' | 'bad' | 'warn' | 'accent' | 'alt';

export interface ChartSeries {
  label: string;
  tone: Tone;
  values: readonly (number | undefined)[];
  /** Drawn dashed, so two lines differ by more than colour. */
  dashed?: boolean;
}

export interface ChartProps {
  /** The figure's id (a constant of the page, never outside data). */
  id: string;
  title: string;
  kind: 'line' | 'area' | 'bars';
  window: ChartWindow;
  times: readonly number[];
  series: readonly ChartSeries[];
  /** The y axis title, with its unit: "batches per minute", "ack time (ms)". */
  yTitle: string;
  /** A value as the ticks and the points' titles write it. @default compact count */
  format?: (value: number) => string;
  /** The unit the points' titles and the summary add to a value (the ticks leave it to the axis title). */
  unit?: string;
  /** Log scale: latencies from 5 ms to seconds on one chart. @default linear */
  scale?: 'linear' | 'log';
  /** Horizontal lines, e.g. the 1 s and 2 s Amplitude waits. */
  thresholds?: readonly { value: number; label: string }[];
  /** A shaded band between two values, named in the legend. */
  band?: { from: number; to: number; label: string };
  note?: Child;
}

// The drawing's own units; the SVG scales to its box (width 100%).
const width = 600;
const height = 250;
const margin = { left: 74, right: 16, top: 14, bottom: 44 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;
const bottom = margin.top + plotHeight;

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
export const formatCompact = (value: number) => compact.format(value);

const pad2 = (value: number) => String(value).padStart(2, '0');
/** `14:05`, or `12-07` at midnight and on day steps: UTC, as the axis title says. */
export function timeLabel(epochMs: number, stepMs: number): string {
  const date = new Date(epochMs);
  if (stepMs >= dayMs || epochMs % dayMs === 0)
    return `${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`;
  return `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}`;
}
const fullTime = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ');

const timeSteps = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880].map((minutes) => minutes * minuteMs);

/** Time ticks on whole UTC steps, at most 7 of them. */
export function timeTicks(window: ChartWindow): { at: number; label: string }[] {
  const span = window.to - window.from;
  const step = timeSteps.find((candidate) => span / candidate <= 7) ?? (timeSteps.at(-1) as number);
  const ticks: { at: number; label: string }[] = [];
  for (let at = Math.ceil(window.from / step) * step; at <= window.to; at += step) {
    ticks.push({ at, label: timeLabel(at, step) });
  }
  return ticks;
}

/** A tick's label at the plot's edge is aligned inward, so it is not cut off. */
const tickAnchor = (x: number) =>
  x > margin.left + plotWidth - 24 ? 'end' : x < margin.left + 24 ? 'start' : 'middle';

/** 1, 2 or 5 times a power of ten: a step a person reads at a glance. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const scaled = rough / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

interface Scale {
  y: (value: number) => number;
  ticks: number[];
}

function linearScale(max: number): Scale {
  const step = max <= 0 ? 1 : niceStep(max / 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks: number[] = [];
  for (let tick = 0; tick <= top + step / 2; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return { y: (value) => bottom - (Math.max(0, value) / top) * plotHeight, ticks };
}

/** Powers of ten from 1 up to at least `max`; values below 1 sit on the floor. */
function logScale(max: number): Scale {
  const topPower = Math.max(1, Math.ceil(Math.log10(Math.max(max, 10))));
  const ticks = Array.from({ length: topPower + 1 }, (_, power) => 10 ** power);
  return {
    y: (value) => bottom - (Math.log10(Math.max(1, value)) / topPower) * plotHeight,
    ticks,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;

/** Runs of consecutive defined values: a missing bucket breaks the line. */
export function segments(values: readonly (number | undefined)[]): { index: number; value: number }[][] {
  const runs: { index: number; value: number }[][] = [];
  let run: { index: number; value: number }[] = [];
  values.forEach((value, index) => {
    if (value === undefined) {
      if (run.length > 0) runs.push(run);
      run = [];
      return;
    }
    run.push({ index, value });
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

const defined = (values: readonly (number | undefined)[]) =>
  values.filter((value): value is number => value !== undefined);

/** What the chart shows, in words, for a screen reader (the SVG's <desc>). */
function summary(props: ChartProps, format: (value: number) => string): string {
  const { from, to } = props.window;
  const parts = props.series.map((one) => {
    const values = defined(one.values);
    if (values.length === 0) return `${one.label}: no data`;
    if (props.kind === 'bars') return `${one.label}: ${format(values.reduce((a, b) => a + b, 0))} in all`;
    return `${one.label}: latest ${format(values.at(-1) as number)}, highest ${format(Math.max(...values))}`;
  });
  return `${props.yTitle}, ${fullTime(from)} to ${fullTime(to)} UTC. ${parts.join('; ')}.`;
}

/** A line, area or stacked-bar chart; "no data in this range" when no series has a value. */
export function Chart(props: ChartProps) {
  const tick = props.format ?? formatCompact;
  const format = (value: number) => (props.unit ? `${tick(value)} ${props.unit}` : tick(value));
  const { window, times, series } = props;
  const empty = series.every((one) => defined(one.values).length === 0);
  const legend = (
    <ul class="legend">
      {series.map((one) => (
        <li class={`tone-${one.tone}`}>
          <span class={one.dashed ? 'swatch dashed' : 'swatch'} aria-hidden="true" />
          {one.label}
        </li>
      ))}
      {props.band ? (
        <li class="tone-threshold">
          <span class="swatch band" aria-hidden="true" />
          {props.band.label}
        </li>
      ) : null}
    </ul>
  );
  if (empty) {
    return (
      <figure class="chart" id={props.id}>
        <figcaption>{props.title}</figcaption>
        <p class="chart-empty">no data in this range</p>
      </figure>
    );
  }

  // The y domain: the highest stack (bars) or value, and the thresholds, so they are on the chart.
  const stacks = times.map((_, index) => series.reduce((sum, one) => sum + (one.values[index] ?? 0), 0));
  const dataMax =
    props.kind === 'bars'
      ? Math.max(0, ...stacks)
      : Math.max(0, ...series.flatMap((one) => defined(one.values)));
  const marks = [...(props.thresholds ?? []).map((one) => one.value), ...(props.band ? [props.band.to] : [])];
  const domainMax = Math.max(dataMax, ...marks);
  const scale = props.scale === 'log' ? logScale(domainMax) : linearScale(domainMax);
  const band = plotWidth / Math.max(1, times.length);
  const xAt = (epochMs: number) =>
    margin.left + ((epochMs - window.from) / (window.to - window.from)) * plotWidth;
  const xMid = (index: number) => round(margin.left + (index + 0.5) * band);
  const pointTitle = (label: string, index: number, value: number) =>
    `${label}, ${fullTime(times[index] as number)} UTC: ${format(value)}`;
  const titleId = `${props.id}-title`;
  const descId = `${props.id}-desc`;

  return (
    <figure class="chart" id={props.id}>
      <figcaption>{props.title}</figcaption>
      <div class="chart-box">
        <svg
          viewBox={`0 0 ${width} ${height}`}
          width="100%"
          role="img"
          aria-labelledby={`${titleId} ${descId}`}
          preserveAspectRatio="xMidYMid meet"
        >
          <title id={titleId}>{props.title}</title>
          <desc id={descId}>{summary(props, format)}</desc>
          <g class="axis y-axis">
            {scale.ticks.map((value) => {
              const y = round(scale.y(value));
              return (
                <g>
                  <line class="grid" x1={margin.left} x2={margin.left + plotWidth} y1={y} y2={y} />
                  <text x={margin.left - 6} y={y + 4} text-anchor="end">
                    {tick(value)}
                  </text>
                </g>
              );
            })}
            <text
              class="axis-title"
              x={-(margin.top + plotHeight / 2)}
              y={14}
              transform="rotate(-90)"
              text-anchor="middle"
            >
              {props.yTitle}
            </text>
          </g>
          <g class="axis x-axis">
            <line x1={margin.left} x2={margin.left + plotWidth} y1={bottom} y2={bottom} />
            {timeTicks(window).map((tick) => {
              const x = round(xAt(tick.at));
              return (
                <g>
                  <line x1={x} x2={x} y1={bottom} y2={bottom + 5} />
                  <text x={x} y={bottom + 18} text-anchor={tickAnchor(x)}>
                    {tick.label}
                  </text>
                </g>
              );
            })}
            <text class="axis-title" x={margin.left + plotWidth / 2} y={height - 4} text-anchor="middle">
              time (UTC), {ranges[window.range].per}
            </text>
          </g>
          {props.band ? (
            <g class="tone-threshold">
              <rect
                class="band"
                x={margin.left}
                width={plotWidth}
                y={round(scale.y(props.band.to))}
                height={Math.max(0, round(scale.y(props.band.from) - scale.y(props.band.to)))}
              />
              <text class="band-label" x={margin.left + 6} y={round(scale.y(props.band.to)) - 4}>
                {props.band.label}
              </text>
            </g>
          ) : null}
          {(props.thresholds ?? []).map((threshold, index) => {
            const y = round(scale.y(threshold.value));
            // Two close lines (1 s, 2 s on a log scale): the first label goes below its line.
            const labelY = index === 0 && (props.thresholds?.length ?? 0) > 1 ? y + 13 : y - 4;
            return (
              <g class="tone-threshold">
                <line class="threshold" x1={margin.left} x2={margin.left + plotWidth} y1={y} y2={y} />
                <text class="threshold-label" x={margin.left + plotWidth - 4} y={labelY} text-anchor="end">
                  {threshold.label}
                </text>
              </g>
            );
          })}
          {props.kind === 'bars' ? (
            <Bars series={series} times={times} band={band} scale={scale} pointTitle={pointTitle} />
          ) : (
            series.map((one) => (
              <g class={`series tone-${one.tone}${one.dashed ? ' dashed' : ''}`}>
                {segments(one.values).map((run) => {
                  const points = run.map(({ index, value }) => `${xMid(index)} ${round(scale.y(value))}`);
                  const first = run[0] as { index: number };
                  const last = run.at(-1) as { index: number };
                  return (
                    <>
                      {props.kind === 'area' ? (
                        <path
                          class="area"
                          d={`M${xMid(first.index)} ${bottom} L${points.join(' L')} L${xMid(last.index)} ${bottom} Z`}
                        />
                      ) : null}
                      <path class="line" d={`M${points.join(' L')}`} />
                    </>
                  );
                })}
                {segments(one.values)
                  .flat()
                  .map(({ index, value }) => (
                    <circle class="dot" data-point="" cx={xMid(index)} cy={round(scale.y(value))} r={2.5}>
                      <title>{pointTitle(one.label, index, value)}</title>
                    </circle>
                  ))}
              </g>
            ))
          )}
        </svg>
      </div>
      {legend}
      {props.note ? <p class="muted chart-note">{props.note}</p> : null}
    </figure>
  );
}

/** Stacked bars, one stack per bucket; a missing or zero value draws nothing. */
function Bars(props: {
  series: readonly ChartSeries[];
  times: readonly number[];
  band: number;
  scale: Scale;
  pointTitle: (label: string, index: number, value: number) => string;
}) {
  const { series, band, scale } = props;
  const gap = band > 4 ? band * 0.15 : 0;
  const below = props.times.map(() => 0);
  return (
    <>
      {series.map((one) => (
        <g class={`series tone-${one.tone}`}>
          {one.values.map((value, index) => {
            if (value === undefined || value <= 0) return null;
            const base = below[index] as number;
            below[index] = base + value;
            const top = scale.y(base + value);
            return (
              <rect
                class="bar"
                data-point=""
                x={round(margin.left + index * band + gap / 2)}
                width={round(Math.max(0.5, band - gap))}
                y={round(top)}
                height={round(Math.max(0.5, scale.y(base) - top))}
              >
                <title>{props.pointTitle(one.label, index, value)}</title>
              </rect>
            );
          })}
        </g>
      ))}
    </>
  );
}

/** The range chooser: links (no script), the current one marked. */
export function RangeChooser({ current, href }: { current: Range; href: (range: Range) => string }) {
  return (
    <nav class="range-chooser" aria-label="time range">
      {(Object.keys(ranges) as Range[]).map((range) => (
        <a href={href(range)} {...(range === current ? { 'aria-current': 'true' } : {})}>
          {ranges[range].label}
        </a>
      ))}
    </nav>
  );
}

/** Why a page has no charts, in place of them. */
export function NoCharts({ reason }: { reason: string }) {
  return (
    <p class="notice no-charts" id="no-charts">
      No charts: {reason}
    </p>
  );
}

/** The charts' common words: the series store is absent, or could not be read. */
export const noSeriesReason =
  'this inspector keeps no time series (it was started without a series store), so there is nothing to draw.';

/** A count for the totals tables. */
export const totalText = (value: number) => formatCount(Math.round(value));
