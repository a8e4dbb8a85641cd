/** @module Deliveries: newest first, filters, cursor paging, lookup by message_id, and the live tail. */
import { raw } from 'hono/html';
import { deliveryOutcomes } from '../deliveries/delivery-log.ts';
import { appliedLegend, type DeliveryRow, deliveryColumns } from '../delivery-row.ts';
import { liveScript } from '../live-script.ts';
import { Page } from './layout.tsx';
import { TableHead } from './table-head.tsx';
import { TimeRange } from './time-range.tsx';

export interface DeliveryFilters {
  outcome?: string | undefined;
  cohort?: string | undefined;
  /** `in`, `out` or empty. */
  direction?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
}

export interface DeliveriesProps {
  base: string;
  loggedIn: boolean;
  nonce: string | undefined;
  rows: DeliveryRow[];
  filters: DeliveryFilters;
  /** The query string of the filters, for paging and the live stream. */
  filterQuery: string;
  nextCursor: string | null;
  /** True on a page after the first: the live tail adds only to the newest page. */
  paged: boolean;
  /** The newest delivery's id when the page was made: the live tail sends what comes after. */
  liveAfter: string;
}

export function RowCells({ row }: { row: DeliveryRow }) {
  return (
    <tr data-id={row.id} {...(row.className ? { class: row.className } : {})}>
      {row.cells.map((cell) => (
        <td
          {...(cell.className ? { class: cell.className } : {})}
          {...(cell.title ? { title: cell.title } : {})}
        >
          {cell.href ? <a href={cell.href}>{cell.text}</a> : cell.text}
        </td>
      ))}
    </tr>
  );
}

export function DeliveriesPage(props: DeliveriesProps) {
  const { base, filters } = props;
  const live = !props.paged && filters.to === undefined;
  const join = (query: string, extra: string) => [query, extra].filter(Boolean).join('&');
  return (
    <Page title="Deliveries" base={base} section="deliveries" loggedIn={props.loggedIn}>
      <form method="get" action={`${base}/delivery`} class="filters">
        <label>
          message_id
          <input name="message_id" required size={36} />
        </label>
        <button type="submit">Look up</button>
      </form>
      <form method="get" action={`${base}/deliveries`} class="filters">
        <label>
          outcome
          <select name="outcome">
            <option value="">any</option>
            {deliveryOutcomes.map((outcome) => (
              <option value={outcome} selected={filters.outcome === outcome}>
                {outcome}
              </option>
            ))}
          </select>
        </label>
        <label>
          cohort id
          <input name="cohort" value={filters.cohort ?? ''} />
        </label>
        <label>
          direction
          <select name="direction">
            <option value="">any</option>
            <option value="in" selected={filters.direction === 'in'}>
              in (entered)
            </option>
            <option value="out" selected={filters.direction === 'out'}>
              out (left)
            </option>
          </select>
        </label>
        <TimeRange from={filters.from} to={filters.to} />
        <button type="submit">Filter</button>
        <a href={`${base}/deliveries`}>clear</a>
      </form>
      {live ? (
        <p
          id="live"
          data-stream={`${base}/deliveries/live${props.filterQuery ? `?${props.filterQuery}` : ''}`}
          data-after={props.liveAfter}
        >
          Live tail: <span id="live-status">off (needs JavaScript)</span>{' '}
          <button type="button" id="live-toggle" hidden>
            Pause
          </button>
        </p>
      ) : (
        <p class="muted">
          The live tail runs on the newest page without an end time: <a href={`${base}/deliveries`}>newest</a>
          .
        </p>
      )}
      <table>
        <TableHead columns={[...deliveryColumns]} />
        <tbody id="deliveries-body">
          {props.rows.length === 0 ? (
            <tr id="no-deliveries">
              <td colspan={deliveryColumns.length} class="muted">
                No deliveries{props.filterQuery ? ' match these filters' : ' yet'}.
              </td>
            </tr>
          ) : (
            props.rows.map((row) => <RowCells row={row} />)
          )}
        </tbody>
      </table>
      <p class="muted legend" id="applied-legend">
        applied: {appliedLegend}.
      </p>
      <p class="actions">
        {props.paged ? <a href={`${base}/deliveries?${props.filterQuery}`}>← newest</a> : null}
        {props.nextCursor ? (
          <a
            rel="next"
            href={`${base}/deliveries?${join(props.filterQuery, `before=${encodeURIComponent(props.nextCursor)}`)}`}
          >
            older →
          </a>
        ) : null}
      </p>
      {/* raw() on a constant of this module: the one inline script, allowed by its nonce. */}
      {live ? <script nonce={props.nonce}>{raw(liveScript)}</script> : null}
    </Page>
  );
}
