/**
 * @module Sinks: each sink's route and state (running, paused, backfilling with its progress), the
 * cohorts the mass-exit guard holds with the numbers that tripped it, the confirm step of every
 * action and what it did; and the hold banner the overview and a held cohort's page show.
 */
import type { Hold, SinkStatus, Stamp } from '../../core/sinks/control.ts';
import { formatCount, formatDuration, formatTime } from '../format.ts';
import {
  type Buckets,
  Chart,
  NoCharts,
  noSeriesReason,
  type Range,
  RangeChooser,
  ranges,
  valuesOf,
} from './chart.tsx';
import { Page } from './layout.tsx';
import { TableHead } from './table-head.tsx';

export type SinkAction = 'pause' | 'resume' | 'backfill';
export type HoldAction = 'release' | 'discard';

/** The holds as read for one request, or why they could not be read. */
export type HoldsRead = { holds: readonly Hold[] } | { error: string };

const cohortHref = (base: string, id: string) => `${base}/cohort?id=${encodeURIComponent(id)}`;
export const sinkActionHref = (base: string, action: SinkAction, sink: string) =>
  `${base}/sinks/${action}?sink=${encodeURIComponent(sink)}`;
export const holdActionHref = (base: string, action: HoldAction, cohortId: string) =>
  `${base}/holds/${action}?cohort_id=${encodeURIComponent(cohortId)}`;

const percent = (share: number) => `${(share * 100).toLocaleString('en-US', { maximumFractionDigits: 1 })}%`;
const plural = (count: number, one: string, many = `${one}s`) =>
  `${formatCount(count)} ${count === 1 ? one : many}`;

function StampText({ stamp, now }: { stamp: Stamp; now: number }) {
  return (
    <>
      since {formatTime(stamp.at)} ({formatDuration(Math.max(0, now - stamp.at))} ago) by{' '}
      <code>{stamp.by}</code>
    </>
  );
}

/** A backfill's progress: a <progress> bar and "n of m (p%)". */
function Progress({ sent, total }: { sent: number; total: number }) {
  const share = total === 0 ? 1 : Math.min(1, sent / total);
  return (
    <span class="backfill-progress">
      <progress value={Math.min(sent, total)} max={Math.max(total, 1)}>
        {percent(share)}
      </progress>{' '}
      {formatCount(sent)} of {formatCount(total)} ({percent(share)})
    </span>
  );
}

/** Running, paused since … by …, backfilling n of m: what a sink is doing now. */
export function SinkState({ sink, now }: { sink: SinkStatus; now: number }) {
  const { paused, backfill } = sink;
  return (
    <div class="sink-state">
      {paused ? (
        <div>
          <b class="error">paused</b> <StampText stamp={paused} now={now} />
        </div>
      ) : backfill ? null : (
        <div class="outcome-accepted">running</div>
      )}
      {backfill ? (
        <div>
          <b>backfilling</b>
          {paused ? ' (waits while paused)' : ''}: <Progress sent={backfill.sent} total={backfill.total} />
          <div class="muted">
            {plural(backfill.cohorts.length, 'cohort')} left; started{' '}
            <StampText stamp={backfill.started} now={now} />
          </div>
        </div>
      ) : null}
    </div>
  );
}

function RouteText({ sink }: { sink: SinkStatus }) {
  return (
    <>
      cohorts <code>{sink.route.cohorts.join(', ')}</code> · {sink.route.directions.join(', ')}
    </>
  );
}

/** The numbers that tripped the guard, in a sentence. */
function HoldNumbers({ hold }: { hold: Hold }) {
  const ratio = hold.membersAtOpen === 0 ? 1 : hold.exits / hold.membersAtOpen;
  return (
    <span class="hold-numbers">
      {formatCount(hold.exits)} of {formatCount(hold.membersAtOpen)} members left ({percent(ratio)}, above the{' '}
      {percent(hold.maxExitRatio)} limit) within{' '}
      {formatDuration(Math.max(0, hold.trippedAt - hold.windowOpenedAt))} of {formatTime(hold.windowOpenedAt)}
      ; held since {formatTime(hold.trippedAt)}
    </span>
  );
}

/**
 * The mass-exit holds, prominently: on the overview every hold, on a cohort's page its own.
 * Nothing when there is none (or no sink control).
 */
export function HoldBanner({
  base,
  holds,
  cohortId,
}: {
  base: string;
  holds: HoldsRead | undefined;
  /** Only this cohort's hold (a cohort's page). */
  cohortId?: string;
}) {
  if (holds === undefined) return null;
  if ('error' in holds) {
    return cohortId === undefined ? (
      <p class="notice" id="holds-banner">
        The mass-exit holds could not be read: {holds.error}
      </p>
    ) : null;
  }
  const shown = holds.holds.filter((hold) => cohortId === undefined || hold.cohortId === cohortId);
  if (shown.length === 0) return null;
  return (
    <div class="notice" id="holds-banner" role="alert">
      <p>
        <b>Mass-exit guard: {plural(shown.length, 'cohort is', 'cohorts are')} held.</b> Their changes wait at
        every sink until an operator releases them (they go out, in order) or discards them (the sinks keep
        the members they had). <a href={`${base}/sinks`}>Sinks</a>
      </p>
      <ul>
        {shown.map((hold) => (
          <li>
            <a href={cohortHref(base, hold.cohortId)}>{hold.cohortName}</a> (<code>{hold.cohortId}</code>):{' '}
            <HoldNumbers hold={hold} />. <a href={holdActionHref(base, 'release', hold.cohortId)}>Release…</a>{' '}
            <a href={holdActionHref(base, 'discard', hold.cohortId)}>Discard…</a>
          </li>
        ))}
      </ul>
    </div>
  );
}

export interface SinksPageProps {
  base: string;
  loggedIn: boolean;
  sinks: SinkStatus[];
  holds: readonly Hold[];
  /** Per sink, the cohorts it takes members of (for "backfill one cohort"); undefined without a store. */
  backfillCohorts: ReadonlyMap<string, readonly { cohortId: string; cohortName: string }[]> | undefined;
  now: number;
  range: Range;
  /** Delivered, failed and waiting per sink over the range, or why there are none. */
  charts: SinkCharts;
}

/** The sinks' series over the range: the buckets, or why there are none. */
export type SinkCharts = { buckets: Buckets } | { error: string } | { absent: true };

/** The series names of one sink's charts. */
export const sinkSeriesNames = (sink: string) => ({
  delivered: `sink:${sink}:delivered`,
  failed: `sink:${sink}:failed`,
  waiting: `sink:${sink}:waiting`,
});

/** Per sink: delivered and failed changes (bars), changes waiting (area). */
function SinkChartSection(props: { base: string; sinks: SinkStatus[]; range: Range; charts: SinkCharts }) {
  const { charts, range } = props;
  if (props.sinks.length === 0) return null;
  return (
    <section id="sink-charts">
      <h2>Over the {ranges[range].label}</h2>
      <RangeChooser current={range} href={(one) => `${props.base}/sinks?range=${one}`} />
      {'absent' in charts ? (
        <NoCharts reason={noSeriesReason} />
      ) : 'error' in charts ? (
        <NoCharts reason={`the time series could not be read: ${charts.error}`} />
      ) : (
        props.sinks.map((sink, index) => {
          const names = sinkSeriesNames(sink.name);
          const { buckets } = charts;
          return (
            <>
              <h3>Sink {sink.name}</h3>
              <div class="charts" data-sink={sink.name}>
                <Chart
                  id={`chart-sink-${index}-changes`}
                  title={`${sink.name}: delivered and failed changes`}
                  kind="bars"
                  window={buckets.window}
                  times={buckets.times}
                  yTitle={`changes ${ranges[range].per}`}
                  series={[
                    { label: 'delivered', tone: 'ok', values: valuesOf(buckets, names.delivered) },
                    { label: 'failed (dead-lettered)', tone: 'bad', values: valuesOf(buckets, names.failed) },
                  ]}
                />
                <Chart
                  id={`chart-sink-${index}-waiting`}
                  title={`${sink.name}: changes waiting`}
                  kind="area"
                  window={buckets.window}
                  times={buckets.times}
                  yTitle="changes (highest)"
                  series={[{ label: 'waiting', tone: 'warn', values: valuesOf(buckets, names.waiting) }]}
                />
              </div>
            </>
          );
        })
      )}
    </section>
  );
}

/** While a backfill runs, the page reloads itself this often to show its progress. */
export const backfillRefreshSeconds = 5;

export function SinksPage(props: SinksPageProps) {
  const { base, sinks, holds, now } = props;
  const backfilling = sinks.some((sink) => sink.backfill !== null);
  return (
    <Page
      title="Sinks"
      base={base}
      section="sinks"
      loggedIn={props.loggedIn}
      refreshSeconds={backfilling ? backfillRefreshSeconds : undefined}
    >
      {holds.length > 0 ? (
        <>
          <h2>Held by the mass-exit guard</h2>
          <table id="holds">
            <TableHead
              columns={[
                'cohort',
                'id',
                'held since',
                'window opened',
                '#members at open',
                '#exits',
                'exit ratio (limit)',
                'actions',
              ]}
            />
            <tbody>
              {holds.map((hold) => (
                <tr data-cohort={hold.cohortId}>
                  <td>
                    <a href={cohortHref(base, hold.cohortId)}>{hold.cohortName}</a>
                  </td>
                  <td>
                    <code>{hold.cohortId}</code>
                  </td>
                  <td>{formatTime(hold.trippedAt)}</td>
                  <td>{formatTime(hold.windowOpenedAt)}</td>
                  <td class="num">{formatCount(hold.membersAtOpen)}</td>
                  <td class="num">{formatCount(hold.exits)}</td>
                  <td class="num">
                    {percent(hold.membersAtOpen === 0 ? 1 : hold.exits / hold.membersAtOpen)} (
                    {percent(hold.maxExitRatio)})
                  </td>
                  <td class="actions">
                    <a href={holdActionHref(base, 'release', hold.cohortId)}>Release…</a>
                    <a href={holdActionHref(base, 'discard', hold.cohortId)}>Discard…</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            Release: the held changes go to the sinks, in order. Discard: they are dropped and the sinks keep
            the members they had; a backfill re-syncs them later.
          </p>
        </>
      ) : null}
      {holds.length > 0 ? <h2>Sinks</h2> : null}
      <div class="table-scroll">
        <table id="sinks">
          <TableHead columns={['sink', 'takes', 'state', '#waiting', '#held', 'actions']} />
          <tbody>
            {sinks.length === 0 ? (
              <tr>
                <td colspan={6} class="muted">
                  No sinks (SINKS=none): changes go nowhere.
                </td>
              </tr>
            ) : null}
            {sinks.map((sink) => (
              <tr data-sink={sink.name}>
                <td>
                  <b>{sink.name}</b>
                </td>
                <td>
                  <RouteText sink={sink} />
                </td>
                <td>
                  <SinkState sink={sink} now={now} />
                </td>
                <td class="num">{formatCount(sink.waiting)}</td>
                <td class="num">{formatCount(sink.held)}</td>
                <td>
                  <div class="actions">
                    {sink.paused ? (
                      <a href={sinkActionHref(base, 'resume', sink.name)}>Resume…</a>
                    ) : (
                      <a href={sinkActionHref(base, 'pause', sink.name)}>Pause…</a>
                    )}
                  </div>
                  <BackfillForm base={base} sink={sink} cohorts={props.backfillCohorts?.get(sink.name)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted">
        Waiting: changes that go out once the sink runs (behind a pause, a backfill or older changes). Held:
        changes of cohorts the mass-exit guard holds.
        {backfilling ? ` This page reloads every ${backfillRefreshSeconds} s while a backfill runs.` : ''}
      </p>
      <SinkChartSection base={base} sinks={sinks} range={props.range} charts={props.charts} />
    </Page>
  );
}

/** "Backfill…" for one sink: all the cohorts it takes, or the one chosen; a GET to the confirm page. */
function BackfillForm({
  base,
  sink,
  cohorts,
}: {
  base: string;
  sink: SinkStatus;
  cohorts: readonly { cohortId: string; cohortName: string }[] | undefined;
}) {
  if (sink.backfill !== null) return <span class="muted">backfill running</span>;
  if (cohorts === undefined) {
    return <span class="muted">backfill: from a worker's inspector (this process has no store)</span>;
  }
  return (
    <form method="get" action={`${base}/sinks/backfill`} class="actions backfill-form">
      <input type="hidden" name="sink" value={sink.name} />
      <select name="cohort_id" aria-label={`cohorts to backfill to ${sink.name}`}>
        <option value="">every cohort it takes ({formatCount(cohorts.length)})</option>
        {cohorts.map((cohort) => (
          <option value={cohort.cohortId}>
            {cohort.cohortName} ({cohort.cohortId})
          </option>
        ))}
      </select>
      <button type="submit">Backfill…</button>
    </form>
  );
}

export function NoSinkControlPage({ base, loggedIn }: { base: string; loggedIn: boolean }) {
  return (
    <Page title="Sinks" base={base} section="sinks" loggedIn={loggedIn}>
      <p class="notice" id="no-sink-control">
        Sink control is not part of this receiver (the <code>sink-control</code> extra is not in{' '}
        <code>src/compose.ts</code>): sinks get every change at once, and there is no pause, resume, backfill
        or mass-exit guard.
      </p>
    </Page>
  );
}

const sinkWords: Record<SinkAction, string> = {
  pause:
    'Pause: the changes for this sink stop going out and wait, kept beside the queue, until it is resumed. Webhooks are still answered and applied; other sinks go on.',
  resume: 'Resume: the sink gets the changes that waited, oldest first, then new ones as they come.',
  backfill:
    'Backfill: the sink is sent every member of the cohorts it takes (or of the one chosen) as it is in the store now, as entered changes, page by page; new changes wait behind it. The progress shows on the Sinks page.',
};

const sinkButtons: Record<SinkAction, string> = {
  pause: 'Pause',
  resume: 'Resume',
  backfill: 'Start the backfill',
};

export function SinkConfirmPage(props: {
  base: string;
  loggedIn: boolean;
  action: SinkAction;
  sink: SinkStatus;
  /** Backfill of one cohort only. */
  cohort?: { cohortId: string; cohortName: string } | undefined;
  now: number;
}) {
  const { base, action, sink, cohort } = props;
  const what = action === 'backfill' ? `backfill ${sink.name}` : `${action} ${sink.name}`;
  return (
    <Page title={`Confirm: ${what}`} base={base} section="sinks" loggedIn={props.loggedIn}>
      <p id="confirm-summary">
        This will {action} the sink <b>{sink.name}</b>
        {action === 'backfill' ? (
          cohort ? (
            <>
              {' '}
              with the members of cohort <b>{cohort.cohortName}</b> (<code>{cohort.cohortId}</code>)
            </>
          ) : (
            ' with the members of every cohort it takes'
          )
        ) : null}
        .
      </p>
      <p class="muted">{sinkWords[action]}</p>
      <SinkFacts sink={sink} now={props.now} />
      <form method="post" action={`${base}/sinks/${action}`} class="actions" id="confirm-form">
        <input type="hidden" name="sink" value={sink.name} />
        {cohort ? <input type="hidden" name="cohort_id" value={cohort.cohortId} /> : null}
        <button type="submit" class={action === 'pause' ? 'danger' : ''}>
          {sinkButtons[action]}
        </button>
        <a href={`${base}/sinks`}>Cancel</a>
      </form>
    </Page>
  );
}

function SinkFacts({ sink, now }: { sink: SinkStatus; now: number }) {
  return (
    <dl id="sink">
      <dt>takes</dt>
      <dd>
        <RouteText sink={sink} />
      </dd>
      <dt>state</dt>
      <dd>
        <SinkState sink={sink} now={now} />
      </dd>
      <dt>waiting</dt>
      <dd>{plural(sink.waiting, 'change')}</dd>
      <dt>held</dt>
      <dd>{plural(sink.held, 'change')}</dd>
    </dl>
  );
}

const sinkDone: Record<SinkAction, string> = {
  pause: 'Paused',
  resume: 'Resumed',
  backfill: 'Backfill started:',
};

export function SinkDonePage(props: {
  base: string;
  loggedIn: boolean;
  action: SinkAction;
  sink: SinkStatus;
  now: number;
}) {
  const { base, sink } = props;
  return (
    <Page
      title={`${sinkDone[props.action]} ${sink.name}`}
      base={base}
      section="sinks"
      loggedIn={props.loggedIn}
    >
      <SinkFacts sink={sink} now={props.now} />
      <p class="actions">
        <a href={`${base}/sinks`}>Sinks</a>
      </p>
    </Page>
  );
}

const holdWords: Record<HoldAction, string> = {
  release:
    'Release: the held changes of this cohort go to the sinks, in order, and the guard counts its exits afresh.',
  discard:
    'Discard: the held changes of this cohort are dropped for good. The sinks keep the members they had (the removals never reach them); a backfill re-syncs them later.',
};

export function HoldConfirmPage(props: {
  base: string;
  loggedIn: boolean;
  action: HoldAction;
  hold: Hold;
  /** Held changes of this cohort's hold, over every sink (the sinks' held counts). */
  heldChanges: number;
}) {
  const { base, action, hold } = props;
  return (
    <Page
      title={`Confirm: ${action} ${hold.cohortName}`}
      base={base}
      section="sinks"
      loggedIn={props.loggedIn}
    >
      <p id="confirm-summary">
        This will {action} the mass-exit hold of cohort <b>{hold.cohortName}</b> (<code>{hold.cohortId}</code>
        ).
      </p>
      <p>
        <HoldNumbers hold={hold} />.
      </p>
      <p class="muted">{holdWords[action]}</p>
      <p class="muted">
        The sinks hold {plural(props.heldChanges, 'change')} in all (every held cohort's, counted per sink).
      </p>
      <form method="post" action={`${base}/holds/${action}`} class="actions" id="confirm-form">
        <input type="hidden" name="cohort_id" value={hold.cohortId} />
        <button type="submit" class={action === 'discard' ? 'danger' : ''}>
          {action === 'release' ? 'Release' : 'Discard'} the held changes
        </button>
        <a href={`${base}/sinks`}>Cancel</a>
      </form>
    </Page>
  );
}

export function HoldDonePage(props: {
  base: string;
  loggedIn: boolean;
  action: HoldAction;
  cohortId: string;
  cohortName: string;
  changes: number;
}) {
  const { base } = props;
  return (
    <Page
      title={`${props.action === 'release' ? 'Released' : 'Discarded'} ${props.cohortName}`}
      base={base}
      section="sinks"
      loggedIn={props.loggedIn}
    >
      <p id="hold-result">
        {props.action === 'release'
          ? `${plural(props.changes, 'held change')} of cohort ${props.cohortName} (${props.cohortId}) go to the sinks now, in order.`
          : `${plural(props.changes, 'held change')} of cohort ${props.cohortName} (${props.cohortId}) dropped: the sinks keep the members they had. A backfill re-syncs them.`}
      </p>
      <p class="actions">
        <a href={`${base}/sinks`}>Sinks</a>
        <a href={cohortHref(base, props.cohortId)}>The cohort</a>
      </p>
    </Page>
  );
}
