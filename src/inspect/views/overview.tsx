/** @module Overview: this process's counters since start and in the last hour, the queue, the mode. */

import type { QueueStats } from '../../core/queue/queue.ts';
import { labelValues, sum, type Totals } from '../counters.ts';
import type { Retention } from '../deliveries/delivery-log.ts';
import { formatCount, formatDuration, formatTime } from '../format.ts';
import { Page } from './layout.tsx';
import { HoldBanner, type HoldsRead } from './sinks.tsx';
import { TableHead } from './table-head.tsx';

export interface OverviewProps {
  base: string;
  loggedIn: boolean;
  sinceStart: Totals;
  lastHour: Totals;
  /** When the last-hour window starts (shorter than an hour just after start). */
  lastHourFrom: number;
  queue: QueueStats | { error: string };
  lastBatchAt: number | null;
  retention: Retention | { error: string };
  mode: { queue: string; store: string; role: string };
  version: string;
  uptimeMs: number;
  now: number;
  /** The mass-exit holds for the banner; undefined without sink control. */
  holds?: HoldsRead | undefined;
}

interface Row {
  label: string;
  count: (totals: Totals) => number;
  indent?: boolean;
}

function rows(totals: Totals): Row[] {
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
  const { queue, retention } = props;
  return (
    <Page title="Overview" base={props.base} section="overview" loggedIn={props.loggedIn}>
      <HoldBanner base={props.base} holds={props.holds} />
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
      <h2>Counters of this process</h2>
      <p class="muted">
        The numbers <code>/metrics</code> exports, for this process only; last hour from{' '}
        {formatTime(props.lastHourFrom)}.
      </p>
      <table id="counters">
        <TableHead columns={['what', '#since start', '#last hour']} />
        <tbody>
          {rows(props.sinceStart).map((row) => (
            <tr>
              <td>{row.indent ? `  · ${row.label}` : row.label}</td>
              <td class="num">{formatCount(row.count(props.sinceStart))}</td>
              <td class="num">{formatCount(row.count(props.lastHour))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
