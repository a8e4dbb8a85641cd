/** @module Cohorts: every cohort with its members and latest sync; one cohort's members; a user's cohorts. */

import type { CohortSummary, MembersPage, UserCohort } from '../../core/store/store.ts';
import type { CohortActivity } from '../deliveries/delivery-log.ts';
import { formatCount, formatSeconds, formatTime } from '../format.ts';
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
import { cohortRemoveHref } from './cohort-remove.tsx';
import { Page } from './layout.tsx';
import { HoldBanner, type HoldsRead } from './sinks.tsx';
import { TableHead } from './table-head.tsx';

const cohortHref = (base: string, id: string) => `${base}/cohort?id=${encodeURIComponent(id)}`;
/** Every member as one file, streamed (routes/cohort-routes.tsx). */
const exportHref = (base: string, id: string, format: 'csv' | 'ndjson') =>
  `${base}/cohort/members.${format}?id=${encodeURIComponent(id)}`;

function UserLookup({ base, userId }: { base: string; userId?: string }) {
  return (
    <form method="get" action={`${base}/users`} class="filters" id="user-lookup">
      <label>
        which cohorts is user…
        <input name="user_id" value={userId ?? ''} required />
      </label>
      <button type="submit">Look up</button>
    </form>
  );
}

export function NoStorePage({ base, loggedIn }: { base: string; loggedIn: boolean }) {
  return (
    <Page title="Cohorts" base={base} section="cohorts" loggedIn={loggedIn}>
      <p class="notice">
        This process has no store (ROLE=receiver). Open the inspector of a worker (ROLE=worker or all) to see
        cohorts and members.
      </p>
    </Page>
  );
}

export function CohortsPage(props: {
  base: string;
  loggedIn: boolean;
  cohorts: CohortSummary[];
  activity: Map<string, CohortActivity>;
}) {
  const { base } = props;
  return (
    <Page title="Cohorts" base={base} section="cohorts" loggedIn={props.loggedIn}>
      <UserLookup base={base} />
      <table id="cohorts">
        <TableHead
          columns={[
            'cohort',
            'id',
            '#members',
            'last batch',
            'last computed_time',
            '#entered (last sync)',
            '#left (last sync)',
          ]}
        />
        <tbody>
          {props.cohorts.length === 0 ? (
            <tr>
              <td colspan={7} class="muted">
                No cohorts yet.
              </td>
            </tr>
          ) : null}
          {props.cohorts.map((cohort) => {
            const activity = props.activity.get(cohort.cohortId);
            return (
              <tr>
                <CohortCells base={base} cohort={cohort} />
                <td class="num">{formatCount(cohort.members)}</td>
                <td>{formatTime(activity?.lastBatchAt)}</td>
                <td>{formatSeconds(activity?.lastComputedTime ?? cohort.updatedAt)}</td>
                <td class="num">{activity ? formatCount(activity.entered) : '—'}</td>
                <td class="num">{activity ? formatCount(activity.left) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted">Last batch and the last sync's entered / left come from the kept deliveries.</p>
    </Page>
  );
}

export function CohortPage(props: {
  base: string;
  loggedIn: boolean;
  cohortId: string;
  summary: CohortSummary | undefined;
  page: MembersPage;
  cursor: string | undefined;
  /** For the mass-exit hold banner; undefined without sink control. */
  holds?: HoldsRead | undefined;
  range: Range;
  /** Members, entered and left over the range, or why there are none. */
  charts: CohortCharts;
}) {
  const { base, cohortId } = props;
  return (
    <Page
      title={`Cohort ${props.summary?.cohortName ?? cohortId}`}
      base={base}
      section="cohorts"
      loggedIn={props.loggedIn}
    >
      <HoldBanner base={base} holds={props.holds} cohortId={cohortId} />
      <dl>
        <dt>id</dt>
        <dd>
          <code>{cohortId}</code>
        </dd>
        <dt>members</dt>
        <dd>{props.summary ? formatCount(props.summary.members) : '—'}</dd>
        <dt>deliveries</dt>
        <dd>
          <a href={`${base}/deliveries?cohort=${encodeURIComponent(cohortId)}`}>this cohort's deliveries</a>
        </dd>
        <dt>download</dt>
        <dd id="member-downloads">
          every member, in user_id order: <a href={exportHref(base, cohortId, 'csv')}>CSV</a> ·{' '}
          <a href={exportHref(base, cohortId, 'ndjson')}>NDJSON</a>
        </dd>
        <dt>remove</dt>
        <dd>
          <a class="danger" href={cohortRemoveHref(base, cohortId)}>
            Remove this cohort…
          </a>
        </dd>
      </dl>
      <CohortChartSection base={base} cohortId={cohortId} range={props.range} charts={props.charts} />
      <h2>Members</h2>
      <div class="table-scroll">
        <table id="members">
          <TableHead columns={['user_id', 'member since (computed_time)', 'properties']} />
          <tbody>
            {props.page.members.length === 0 ? (
              <tr>
                <td colspan={3} class="muted">
                  No members{props.cursor ? ' on this page' : ''}.
                </td>
              </tr>
            ) : null}
            {props.page.members.map((member) => (
              <tr>
                <td>
                  <a href={`${base}/users?user_id=${encodeURIComponent(member.userId)}`}>{member.userId}</a>
                </td>
                <td>{formatSeconds(member.since)}</td>
                <td>
                  <code>{member.properties === null ? '' : JSON.stringify(member.properties)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="actions">
        {props.cursor ? <a href={cohortHref(base, cohortId)}>← first page</a> : null}
        {props.page.nextCursor ? (
          <a
            rel="next"
            href={`${cohortHref(base, cohortId)}&cursor=${encodeURIComponent(props.page.nextCursor)}`}
          >
            next page →
          </a>
        ) : null}
      </p>
    </Page>
  );
}

/** A cohort's series over the range: the buckets, or why there are none. */
export type CohortCharts = { buckets: Buckets } | { error: string } | { absent: true };

/** The series names of one cohort's charts (ids may hold ':' or quotes: the store keeps them as given). */
export const cohortSeriesNames = (cohortId: string) => ({
  members: `cohort:${cohortId}:members`,
  entered: `cohort:${cohortId}:entered`,
  left: `cohort:${cohortId}:left`,
});

function CohortChartSection(props: { base: string; cohortId: string; range: Range; charts: CohortCharts }) {
  const { charts, cohortId } = props;
  const names = cohortSeriesNames(cohortId);
  return (
    <>
      <h2>Over the {ranges[props.range].label}</h2>
      <RangeChooser
        current={props.range}
        href={(range) => `${cohortHref(props.base, cohortId)}&range=${range}`}
      />
      {'absent' in charts ? (
        <NoCharts reason={noSeriesReason} />
      ) : 'error' in charts ? (
        <NoCharts reason={`the time series could not be read: ${charts.error}`} />
      ) : (
        <div class="charts">
          <Chart
            id="chart-members"
            title="Members over time"
            kind="area"
            window={charts.buckets.window}
            times={charts.buckets.times}
            yTitle="members (highest)"
            series={[{ label: 'members', tone: 'accent', values: valuesOf(charts.buckets, names.members) }]}
          />
          <Chart
            id="chart-entered-left"
            title="Entered and left"
            kind="bars"
            window={charts.buckets.window}
            times={charts.buckets.times}
            yTitle={`users ${ranges[props.range].per}`}
            series={[
              { label: 'entered', tone: 'ok', values: valuesOf(charts.buckets, names.entered) },
              { label: 'left', tone: 'bad', values: valuesOf(charts.buckets, names.left) },
            ]}
          />
        </div>
      )}
    </>
  );
}

export function UserPage(props: { base: string; loggedIn: boolean; userId: string; cohorts: UserCohort[] }) {
  const { base } = props;
  return (
    <Page title={`User ${props.userId}`} base={base} section="cohorts" loggedIn={props.loggedIn}>
      <UserLookup base={base} userId={props.userId} />
      <p id="user-summary">
        <code>{props.userId}</code> is in {formatCount(props.cohorts.length)} cohort
        {props.cohorts.length === 1 ? '' : 's'}.
      </p>
      <table id="user-cohorts">
        <TableHead columns={['cohort', 'id', 'since (computed_time)']} />
        <tbody>
          {props.cohorts.map((cohort) => (
            <tr>
              <CohortCells base={base} cohort={cohort} />
              <td>{formatSeconds(cohort.since)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** A cohort's first two cells: its name, linking to its page, and its id. */
function CohortCells({ base, cohort }: { base: string; cohort: { cohortId: string; cohortName: string } }) {
  return (
    <>
      <td>
        <a href={cohortHref(base, cohort.cohortId)}>{cohort.cohortName}</a>
      </td>
      <td>
        <code>{cohort.cohortId}</code>
      </td>
    </>
  );
}
