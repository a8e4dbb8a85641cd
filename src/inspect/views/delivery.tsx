/** @module One delivery: what arrived, what was answered, and once applied what changed and each sink's result. */
import { letterHref, type ShownDelivery, sinkFailure } from '../delivery-row.ts';
import { formatCount, formatDirection, formatDuration, formatSeconds, formatTime } from '../format.ts';
import { plural } from '../plural.ts';
import { Page } from './layout.tsx';
import { TableHead } from './table-head.tsx';

export function DeliveryPage({
  base,
  loggedIn,
  delivery,
}: {
  base: string;
  loggedIn: boolean;
  delivery: ShownDelivery;
}) {
  const applied = delivery.applied;
  const failure = sinkFailure(applied);
  const hints = delivery.hints;
  const messageId = delivery.messageId ?? hints?.messageId;
  const cohortId = delivery.cohortId ?? hints?.cohortId;
  const cohortName = delivery.cohortId !== undefined ? delivery.cohortName : hints?.cohortName;
  return (
    <Page title={`Delivery ${messageId ?? delivery.id}`} base={base} section="deliveries" loggedIn={loggedIn}>
      <dl id="delivery">
        <dt>message_id</dt>
        <dd>
          <code>{messageId ?? '(none)'}</code>
          {delivery.messageId === null && messageId !== undefined ? ' (read from the rejected body)' : ''}
        </dd>
        <dt>received</dt>
        <dd>{formatTime(delivery.receivedAt)}</dd>
        <dt>answered in</dt>
        <dd>{`${Math.round(delivery.ackMs * 10) / 10} ms`}</dd>
        <dt>outcome</dt>
        <dd class={`outcome-${delivery.outcome}`}>
          {delivery.outcome} (HTTP {delivery.status}){delivery.reason ? `: ${delivery.reason}` : ''}
        </dd>
        <dt>cohort</dt>
        <dd>
          {cohortId === undefined ? (
            '—'
          ) : (
            <a href={`${base}/cohort?id=${encodeURIComponent(cohortId)}`}>
              {cohortName ?? ''} ({cohortId})
            </a>
          )}
          {delivery.cohortId === undefined && cohortId !== undefined ? ' (read from the rejected body)' : ''}
        </dd>
        <dt>direction</dt>
        <dd>{formatDirection(delivery.inCohort)}</dd>
        <dt>users</dt>
        <dd>{delivery.users === undefined ? '—' : formatCount(delivery.users)}</dd>
        {delivery.userIds !== undefined && delivery.userIds.length > 0 ? (
          <>
            <dt>user ids</dt>
            <dd id="user-ids">
              <ul class="user-ids">
                {delivery.userIds.map((id) => (
                  <li>
                    <a href={`${base}/users?user_id=${encodeURIComponent(id)}`}>
                      <code>{id}</code>
                    </a>
                  </li>
                ))}
              </ul>
              {(delivery.users ?? 0) > delivery.userIds.length
                ? `and ${formatCount((delivery.users ?? 0) - delivery.userIds.length)} more`
                : ''}
            </dd>
          </>
        ) : null}
        <dt>computed_time</dt>
        <dd>
          {formatSeconds(delivery.computedTime)}
          {delivery.computedTime === undefined ? '' : ` (${delivery.computedTime})`}
        </dd>
        <dt>duplicates received</dt>
        <dd>{formatCount(delivery.duplicates)}</dd>
        <dt>receiver</dt>
        <dd>{delivery.receiver}</dd>
        {delivery.quarantineId !== undefined ? (
          <>
            <dt>body</dt>
            <dd>
              <a href={letterHref(base, delivery.quarantineId)}>its letter in the quarantine</a>
            </dd>
          </>
        ) : null}
      </dl>
      <h2>Applied</h2>
      {applied ? (
        <>
          <dl id="applied">
            <dt>applied</dt>
            <dd>{formatTime(applied.appliedAt)}</dd>
            <dt>lag</dt>
            <dd>{formatDuration(applied.lagMs)}</dd>
            <dt>entered</dt>
            <dd>{formatCount(applied.entered)}</dd>
            <dt>left</dt>
            <dd>{formatCount(applied.left)}</dd>
            <dt>updated</dt>
            <dd>
              {applied.updated === undefined
                ? '— (not counted by that worker)'
                : formatCount(applied.updated)}
            </dd>
            <dt>unchanged</dt>
            <dd>{formatCount(applied.unchanged)}</dd>
            <dt>worker</dt>
            <dd>{applied.worker}</dd>
          </dl>
          <h2>Sinks</h2>
          {failure === undefined ? null : (
            <p class={`notice ${failure === 'all' ? 'sinks-failed' : 'sinks-partial'}`} id="sinks-failed">
              {failure === 'all'
                ? `Sinks failed: no sink took these changes (${plural(applied.sinks.length, 'sink')}).`
                : 'Sinks partly failed: some changes did not reach a sink.'}
            </p>
          )}
          {applied.sinks.length === 0 ? (
            <p class="muted">No sink results (no sinks, or no effective changes to send).</p>
          ) : (
            <table id="sinks">
              <TableHead columns={['sink', '#delivered', '#failed', 'error']} />
              <tbody>
                {applied.sinks.map((sink) => (
                  <tr>
                    <td>{sink.name}</td>
                    <td class="num">{formatCount(sink.delivered)}</td>
                    <td class="num">{formatCount(sink.failed)}</td>
                    <td class={sink.error ? 'error' : ''}>{sink.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : (
        <p class="muted">
          {delivery.outcome === 'accepted'
            ? 'Not applied yet (waiting in the queue, or its result is not written yet).'
            : 'Only accepted deliveries are applied.'}
        </p>
      )}
    </Page>
  );
}
