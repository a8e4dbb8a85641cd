/** @module Cohorts, one cohort's members (paged, or as one CSV / NDJSON file), and a user's cohorts, read from the store. */
import { type Context, Hono } from 'hono';
import { StoreUnavailableError } from '../../core/errors.ts';
import { type ExportFormat, exportMembers, responseCutter } from '../../core/http/member-export.ts';
import { type InspectorContext, pageOf } from '../context.ts';
import type { InspectorEnv } from '../env.ts';
import { reject } from '../reject.tsx';
import { parseRange, readBuckets, windowOf } from '../views/chart.tsx';
import {
  type CohortCharts,
  CohortPage,
  CohortsPage,
  cohortSeriesNames,
  NoStorePage,
  UserPage,
} from '../views/cohorts.tsx';
import { readHolds } from './sink-routes.tsx';

const membersPerPage = 100;

export function cohortRoutes(ctx: InspectorContext) {
  const { base, deps } = ctx;
  const app = new Hono<InspectorEnv>();
  app.get('/cohorts', async (c) => {
    if (!deps.store) return c.html(<NoStorePage {...pageOf(ctx, c)} />);
    const [cohorts, activity] = await Promise.all([
      deps.store.listCohorts(),
      deps.deliveryLog.cohortActivity(),
    ]);
    return c.html(<CohortsPage {...pageOf(ctx, c)} cohorts={cohorts} activity={activity} />);
  });
  app.get('/cohort', async (c) => {
    if (!deps.store) return c.html(<NoStorePage {...pageOf(ctx, c)} />);
    const cohortId = c.req.query('id');
    if (!cohortId) return reject(c, base, 400, 'cohort_id_required', 'Give a cohort id.');
    const cursor = c.req.query('cursor') || undefined;
    const range = parseRange(c.req.query('range'));
    const series = deps.series;
    const [page, cohorts, charts] = await Promise.all([
      deps.store.listMembers(cohortId, { limit: membersPerPage, cursor }),
      deps.store.listCohorts(),
      series === undefined
        ? ({ absent: true } as const)
        : readBuckets(series, Object.values(cohortSeriesNames(cohortId)), windowOf(range, ctx.now())).then(
            (buckets): CohortCharts => ({ buckets }),
            (error: unknown) => ({ error: (error as Error).message }),
          ),
    ]);
    const summary = cohorts.find((cohort) => cohort.cohortId === cohortId);
    return c.html(
      <CohortPage
        {...pageOf(ctx, c)}
        cohortId={cohortId}
        summary={summary}
        page={page}
        cursor={cursor}
        holds={await readHolds(ctx)}
        range={range}
        charts={charts}
      />,
    );
  });
  // The read API's downloads, for a logged-in operator: a browser following a link sends the
  // session cookie, not the read API's secret.
  const download = async (c: Context<InspectorEnv>, format: ExportFormat) => {
    if (!deps.store) {
      return reject(
        c,
        base,
        409,
        'no_store',
        'This process has no store (ROLE=receiver): open the inspector of a worker.',
      );
    }
    const cohortId = c.req.query('id');
    if (!cohortId) return reject(c, base, 400, 'cohort_id_required', 'Give a cohort id.');
    c.get('logLine').cohort_id = cohortId;
    try {
      const exported = await exportMembers(deps.store, cohortId, format, {
        logger: deps.logger,
        abortResponse: responseCutter(c.env),
      });
      return c.body(exported.body, 200, exported.headers);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      c.header('Retry-After', String(error.retryAfterSeconds));
      return reject(c, base, 503, error.reason, 'The store cannot be reached now: try again in a moment.');
    }
  };
  app.get('/cohort/members.csv', (c) => download(c, 'csv'));
  app.get('/cohort/members.ndjson', (c) => download(c, 'ndjson'));
  app.get('/users', async (c) => {
    if (!deps.store) return c.html(<NoStorePage {...pageOf(ctx, c)} />);
    const userId = c.req.query('user_id');
    if (!userId) return reject(c, base, 400, 'user_id_required', 'Give a user_id.');
    return c.html(
      <UserPage {...pageOf(ctx, c)} userId={userId} cohorts={await deps.store.userCohorts(userId)} />,
    );
  });
  return app;
}
