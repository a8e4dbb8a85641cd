/**
 * @module Overview: first what needs a person (dead letters and quarantine held now, failing or
 * paused sinks, an old backlog, mass-exit holds: durable state, not process counters), then charts
 * and totals over the chosen range read from the time series, then this process's own counters.
 */

import type { Child } from 'hono/jsx';
import type { LetterKind } from '../../core/dead-letters/dead-letters.ts';
import type { QueueStats } from '../../core/queue/queue.ts';
import type { Stamp } from '../../core/sinks/control.ts';
import { labelValues, sum, type Totals } from '../counters.ts';
import type { Retention } from '../deliveries/delivery-log.ts';
import { formatCount, formatDuration, formatTime } from '../format.ts';
import {
  ackQuantile,
  type Buckets,
  Chart,
  type ChartWindow,
  durationUnit,
  NoCharts,
  noSeriesReason,
  type Range,
  RangeChooser,
  ranges,
  ratioOf,
  scaleValues,
  totalOf,
  totalText,
  valuesOf,
} from './chart.tsx';
import { Page } from './layout.tsx';
import { HoldBanner, type HoldsRead, sinkActionHref } from './sinks.tsx';
import { TableHead } from './table-head.tsx';

/** Letters held now, per kind, counted up to `cap` (more than that reads "cap+"). */
export interface LettersHeld {
  kind: LetterKind;
  count: number;
  capped: boolean;
  newestAt: number | null;
}

export interface SinkAttention {
  name: string;
  /** Changes that failed in the last 15 minutes (from the series); undefined when unknown. */
  failedRecently: number | undefined;
  paused: Stamp | null;
  waiting: number;
}

export interface AttentionRead {
  letters: LettersHeld[] | { error: string };
  /** Undefined without sink control and without series: nothing known about sinks. */
  sinks: SinkAttention[] | { error: string } | undefined;
  /** Why recent sink failures could not be read, when the series failed. */
  seriesError?: string | undefined;
  queue: QueueStats | { error: string };
  holds: HoldsRead | undefined;
}

/** Over the range: the buckets read from the series, or why there are none. */
export type OverviewCharts = { buckets: Buckets; sinks: string[] } | { error: string } | { absent: true };

export interface OverviewProps {
  base: string;
  loggedIn: boolean;
  attention: AttentionRead;
  range: Range;
  window: ChartWindow;
  charts: OverviewCharts;
  sinceStart: Totals;
  lastHour: Totals;
  /** When the last-hour window starts (shorter than an hour just after start). */
  lastHourFrom: number;
  lastBatchAt: number | null;
  retention: Retention | { error: string };
  mode: { queue: string; store: string; role: string };
  version: string;
  uptimeMs: number;
  now: number;
}

/** A backlog older than this needs a person: the workers are not keeping up (or not running). */
export const backlogAlarmSeconds = 60;

const letterWords: Record<LetterKind, { one: string; many: string; where: string; path: string }> = {
  rejected: {
    one: 'rejected body',
    many: 'rejected bodies',
    where: 'in the quarantine',
    path: '/quarantine',
  },
  failed: {
    one: 'failed batch',
    many: 'failed batches',
    where: 'in the dead letters (the store refused them)',
    path: '/dead-letters?kind=failed',
  },
  sink: {
    one: 'sink delivery',
    many: 'sink deliveries',
    where: 'in the dead letters (a sink refused them)',
    path: '/dead-letters?kind=sink',
  },
};

const countText = (count: number, capped: boolean) => `${formatCount(count)}${capped ? '+' : ''}`;

/** The first section: each item says what is wrong and links where to act; "all clear" when none. */
export function Attention({ base, attention, now }: { base: string; attention: AttentionRead; now: number }) {
  const items: { kind: string; body: Child }[] = [];
  const { letters, sinks, queue, holds } = attention;
  if ('error' in letters) {
    items.push({ kind: 'error', body: <>The dead letters could not be read: {letters.error}</> });
  } else {
    for (const held of letters) {
      if (held.count === 0) continue;
      const words = letterWords[held.kind];
      items.push({
        kind: held.kind === 'rejected' ? 'quarantine' : `${held.kind}-letters`,
        body: (
          <>
            <b>
              {countText(held.count, held.capped)} {held.count === 1 ? words.one : words.many}
            </b>{' '}
            {words.where}, the newest at {formatTime(held.newestAt)}.{' '}
            <a href={`${base}${words.path}`}>Inspect, replay or drop…</a>
          </>
        ),
      });
    }
  }
  if (sinks !== undefined && 'error' in sinks) {
    items.push({ kind: 'error', body: <>The sinks' state could not be read: {sinks.error}</> });
  } else if (sinks !== undefined) {
    for (const sink of sinks) {
      if ((sink.failedRecently ?? 0) > 0) {
        items.push({
          kind: 'sink-failing',
          body: (
            <>
              <b>
                Sink {sink.name}: {formatCount(sink.failedRecently ?? 0)} failed{' '}
                {sink.failedRecently === 1 ? 'change' : 'changes'}
              </b>{' '}
              in the last 15 minutes. <a href={`${base}/dead-letters?kind=sink`}>Its dead letters</a> ·{' '}
              <a href={`${base}/sinks`}>Sinks</a>
            </>
          ),
        });
      }
      if (sink.paused !== null && sink.waiting > 0) {
        items.push({
          kind: 'sink-paused',
          body: (
            <>
              <b>
                Sink {sink.name} is paused with {formatCount(sink.waiting)}{' '}
                {sink.waiting === 1 ? 'change' : 'changes'} waiting
              </b>{' '}
              (since {formatTime(sink.paused.at)}, by <code>{sink.paused.by}</code>).{' '}
              <a href={sinkActionHref(base, 'resume', sink.name)}>Resume…</a>
            </>
          ),
        });
      }
    }
  }
  if (attention.seriesError !== undefined) {
    items.push({
      kind: 'error',
      body: <>Recent sink failures could not be read from the time series: {attention.seriesError}</>,
    });
  }
  if ('error' in queue) {
    items.push({ kind: 'error', body: <>The queue cannot be read: {queue.error}</> });
  } else if (queue.batches > 0 && queue.oldestAgeSeconds > backlogAlarmSeconds) {
    items.push({
      kind: 'backlog',
      body: (
        <>
          <b>
            {formatCount(queue.batches)} {queue.batches === 1 ? 'batch' : 'batches'} waiting, the oldest for{' '}
            {formatDuration(queue.oldestAgeSeconds * 1000)}
          </b>
          : the workers are not keeping up, or none is running (ROLE=worker or all), or the store is away.{' '}
          <a href={`${base}/deliveries`}>Recent deliveries</a>
        </>
      ),
    });
  }
  const held = holds !== undefined && !('error' in holds) && holds.holds.length > 0;
  const clear = items.length === 0 && !held && !(holds !== undefined && 'error' in holds);
  return (
    <section class={clear ? 'attention clear' : 'attention'} id="attention" aria-labelledby="attention-title">
      <h2 id="attention-title">Needs a person</h2>
      <HoldBanner base={base} holds={holds} />
      {items.length > 0 ? (
        <ul>
          {items.map((item) => (
            <li data-attention={item.kind}>{item.body}</li>
          ))}
        </ul>
      ) : null}
      {clear ? (
        <p class="all-clear">
          All clear: no dead letters or quarantined bodies held, no sink failing or paused with changes
          waiting, no backlog older than a minute ({formatTime(now)}).
        </p>
      ) : null}
    </section>
  );
}

/** Traffic, ack time against Amplitude's 1-2 s, backlog and oldest waiting, apply lag. */
function OverviewChartGrid({ buckets }: { buckets: Buckets }) {
  const window = buckets.window;
  const per = ranges[window.range].per;
  const values = (name: string) => valuesOf(buckets, name);
  const lagMean = ratioOf(buckets, 'apply_lag_ms_sum', 'applied_batches');
  const lagMax = values('apply_lag_ms_max');
  const lagUnit = durationUnit([lagMean, lagMax]);
  const oldest = values('oldest_waiting_ms');
  const oldestUnit = durationUnit([oldest, [backlogAlarmSeconds * 1000]]);
  return (
    <div class="charts">
      <Chart
        id="chart-traffic"
        title="Traffic by outcome"
        kind="bars"
        window={window}
        times={buckets.times}
        yTitle={`batches ${per}`}
        series={[
          { label: 'accepted', tone: 'ok', values: values('accepted') },
          { label: 'duplicate', tone: 'muted', values: values('duplicate') },
          { label: 'rejected (400 / 422)', tone: 'bad', values: values('rejected') },
          { label: 'unavailable (503)', tone: 'warn', values: values('unavailable') },
        ]}
      />
      <Chart
        id="chart-ack"
        title="Time to answer a webhook (p50, p99)"
        kind="line"
        scale="log"
        window={window}
        times={buckets.times}
        yTitle="ack time (ms, log scale)"
        unit="ms"
        series={[
          { label: 'p50', tone: 'accent', values: ackQuantile(buckets, 0.5) },
          { label: 'p99', tone: 'alt', values: ackQuantile(buckets, 0.99), dashed: true },
        ]}
        thresholds={[
          { value: 1000, label: '1 s' },
          { value: 2000, label: '2 s' },
        ]}
        band={{ from: 1000, to: 2000, label: 'Amplitude waits 1-2 s' }}
        note="Read from fixed buckets: a value is the bucket's upper bound."
      />
      <Chart
        id="chart-backlog"
        title="Backlog: batches waiting to be applied"
        kind="area"
        window={window}
        times={buckets.times}
        yTitle="batches (highest)"
        series={[{ label: 'batches waiting', tone: 'accent', values: values('backlog_batches') }]}
      />
      <Chart
        id="chart-oldest"
        title="Oldest waiting batch"
        kind="line"
        window={window}
        times={buckets.times}
        yTitle={`age (${oldestUnit.unit})`}
        unit={oldestUnit.unit}
        series={[{ label: 'oldest waiting', tone: 'warn', values: scaleValues(oldest, oldestUnit.divisor) }]}
        thresholds={[
          {
            value: (backlogAlarmSeconds * 1000) / oldestUnit.divisor,
            label: 'a minute: needs a person',
          },
        ]}
      />
      <Chart
        id="chart-lag"
        title="Apply lag: from the answer to the store"
        kind="line"
        window={window}
        times={buckets.times}
        yTitle={`lag (${lagUnit.unit})`}
        unit={lagUnit.unit}
        series={[
          { label: 'mean', tone: 'accent', values: scaleValues(lagMean, lagUnit.divisor) },
          { label: 'max', tone: 'alt', values: scaleValues(lagMax, lagUnit.divisor), dashed: true },
        ]}
      />
    </div>
  );
}

/** Totals over the range, from the series: every process, and they survive a restart. */
function RangeTotals({ buckets, sinks, range }: { buckets: Buckets; sinks: string[]; range: Range }) {
  const rows: [string, string][] = [
    ['received batches', 'received'],
    ['accepted', 'accepted'],
    ['duplicate', 'duplicate'],
    ['rejected (400 / 422)', 'rejected'],
    ['unavailable (503)', 'unavailable'],
    ['applied users', 'applied_users'],
    ['entered (membership changes)', 'entered'],
    ['left (membership changes)', 'left'],
    ['updated properties', 'updated'],
    ...sinks.flatMap((sink): [string, string][] => [
      [`sink ${sink}: delivered changes`, `sink:${sink}:delivered`],
      [`sink ${sink}: failed changes`, `sink:${sink}:failed`],
    ]),
  ];
  return (
    <table id="totals">
      <TableHead columns={['what', `#${ranges[range].label}`]} />
      <tbody>
        {rows.map(([label, name]) => (
          <tr>
            <td>{label}</td>
            <td class="num">{totalText(totalOf(buckets, name))}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The series names the overview reads for its charts and totals. */
export function overviewSeriesNames(sinks: readonly string[], ackNames: readonly string[]): string[] {
  return [
    'received',
    'accepted',
    'duplicate',
    'rejected',
    'unavailable',
    'applied_users',
    'entered',
    'left',
    'updated',
    'apply_lag_ms_sum',
    'applied_batches',
    'apply_lag_ms_max',
    'backlog_batches',
    'backlog_users',
    'oldest_waiting_ms',
    ...ackNames,
    ...sinks.flatMap((sink) => [`sink:${sink}:delivered`, `sink:${sink}:failed`]),
  ];
}

interface Row {
  label: string;
  count: (totals: Totals) => number;
  indent?: boolean;
}

function processRows(totals: Totals): Row[] {
  const byReason = (outcome: string) =>
    labelValues(totals, 'batches_total', 'reason')
      .filter((reason) => reason !== '' && sum(totals, 'batches_total', { outcome, reason }) > 0)
      .map((reason) => ({
        label: reason,
        indent: true,
        count: (t: Totals) => sum(t, 'batches_total', { outcome, reason }),
      }));
  const sinks = labelValues(totals, 'sink_changes_total', 'sink').flatMap((sink) => [
    {
      label: `sink ${sink}: delivered changes`,
      count: (t: Totals) => sum(t, 'sink_changes_total', { sink, outcome: 'delivered' }),
    },
    {
      label: `sink ${sink}: failed (dead-lettered) changes`,
      count: (t: Totals) => sum(t, 'sink_changes_total', { sink, outcome: 'dead_lettered' }),
    },
  ]);
  return [
    { label: 'received batches', count: (t) => sum(t, 'batches_total') },
    { label: 'accepted', count: (t) => sum(t, 'batches_total', { outcome: 'accepted' }) },
    { label: 'duplicate', count: (t) => sum(t, 'batches_total', { outcome: 'duplicate' }) },
    { label: 'rejected', count: (t) => sum(t, 'batches_total', { outcome: 'rejected' }) },
    ...byReason('rejected'),
    { label: 'unavailable (503)', count: (t) => sum(t, 'batches_total', { outcome: 'unavailable' }) },
    ...byReason('unavailable'),
    { label: 'applied users', count: (t) => sum(t, 'applied_users_total') },
    {
      label: 'entered (membership changes)',
      count: (t) => sum(t, 'membership_changes_total', { kind: 'entered' }),
    },
    {
      label: 'left (membership changes)',
      count: (t) => sum(t, 'membership_changes_total', { kind: 'left' }),
    },
    { label: 'updated properties', count: (t) => sum(t, 'membership_changes_total', { kind: 'updated' }) },
    {
      label: 'dead letters: rejected bodies',
      count: (t) => sum(t, 'dead_letters_total', { kind: 'rejected' }),
    },
    { label: 'dead letters: failed batches', count: (t) => sum(t, 'dead_letters_total', { kind: 'failed' }) },
    { label: 'dead letters: sink deliveries', count: (t) => sum(t, 'dead_letters_total', { kind: 'sink' }) },
    ...sinks,
  ];
}

export function OverviewPage(props: OverviewProps) {
  const { base, attention, retention, charts, range } = props;
  const { queue } = attention;
  return (
    <Page title="Overview" base={base} section="overview" loggedIn={props.loggedIn}>
      <Attention base={base} attention={attention} now={props.now} />
      <div class="cards">
        <div class="card">
          <b>{'error' in queue ? '?' : formatCount(queue.batches)}</b>
          <span>
            batches waiting ({'error' in queue ? queue.error : `${formatCount(queue.users)} users`})
          </span>
        </div>
        <div class="card">
          <b>{'error' in queue ? '?' : formatDuration(queue.oldestAgeSeconds * 1000)}</b>
          <span>oldest waiting batch</span>
        </div>
        <div class="card">
          <b>
            {props.lastBatchAt === null ? '—' : formatDuration(Math.max(0, props.now - props.lastBatchAt))}
          </b>
          <span>since the last batch ({formatTime(props.lastBatchAt)})</span>
        </div>
        <div class="card">
          <b>{'error' in retention ? '?' : formatCount(retention.kept)}</b>
          <span>
            deliveries kept {'error' in retention ? retention.error : `of ${formatCount(retention.max)}`}
          </span>
        </div>
      </div>
      <h2 id="charts-title">Over the {ranges[range].label}</h2>
      <RangeChooser current={range} href={(one) => `${base}?range=${one}`} />
      {'absent' in charts ? (
        <NoCharts reason={noSeriesReason} />
      ) : 'error' in charts ? (
        <NoCharts reason={`the time series could not be read: ${charts.error}`} />
      ) : (
        <>
          <OverviewChartGrid buckets={charts.buckets} />
          <h2>Totals over the {ranges[range].label}</h2>
          <p class="muted">
            Every process of this deployment, from the time series (kept across restarts), from{' '}
            {formatTime(props.window.from)}.
          </p>
          <RangeTotals buckets={charts.buckets} sinks={charts.sinks} range={range} />
        </>
      )}
      <details class="process-counters">
        <summary>This process since start (resets on restart)</summary>
        <p class="muted">
          The numbers <code>/metrics</code> exports, for this process only; last hour from{' '}
          {formatTime(props.lastHourFrom)}.
        </p>
        <table id="counters">
          <TableHead columns={['what', '#since start', '#last hour']} />
          <tbody>
            {processRows(props.sinceStart).map((row) => (
              <tr>
                <td>{row.indent ? `  · ${row.label}` : row.label}</td>
                <td class="num">{formatCount(row.count(props.sinceStart))}</td>
                <td class="num">{formatCount(row.count(props.lastHour))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      <dl>
        <dt>mode</dt>
        <dd>
          QUEUE={props.mode.queue} · STORE={props.mode.store} · ROLE={props.mode.role}
        </dd>
        <dt>version</dt>
        <dd>{props.version}</dd>
        <dt>uptime</dt>
        <dd>{formatDuration(props.uptimeMs)}</dd>
      </dl>
    </Page>
  );
}
