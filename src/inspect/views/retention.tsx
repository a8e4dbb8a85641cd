/** @module Retention: how many deliveries are kept, the bound, and the oldest one kept. */
import type { Retention } from '../deliveries/delivery-log.ts';
import { formatCount, formatTime } from '../format.ts';
import { Page } from './layout.tsx';

export function RetentionPage({
  base,
  loggedIn,
  retention,
}: {
  base: string;
  loggedIn: boolean;
  retention: Retention;
}) {
  return (
    <Page title="Retention" base={base} section="retention" loggedIn={loggedIn}>
      <dl id="retention">
        <dt>deliveries kept</dt>
        <dd>{formatCount(retention.kept)}</dd>
        <dt>bound (INSPECT_MAX_DELIVERIES)</dt>
        <dd>{formatCount(retention.max)}</dd>
        <dt>oldest kept</dt>
        <dd>{formatTime(retention.oldestAt)}</dd>
      </dl>
      <p class="muted">
        Past the bound the oldest deliveries go first. Dead letters and the quarantine are bounded apart
        (QUARANTINE_MAX per kind).
      </p>
    </Page>
  );
}
