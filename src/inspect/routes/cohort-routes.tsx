/** @module Cohorts, one cohort's members (paged), and a user's cohorts, read from the store. */
import { Hono } from 'hono';
import { type InspectorContext, pageOf } from '../context.ts';
import type { InspectorEnv } from '../env.ts';
import { reject } from '../reject.tsx';
import { CohortPage, CohortsPage, NoStorePage, UserPage } from '../views/cohorts.tsx';

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
    const [page, cohorts] = await Promise.all([
      deps.store.listMembers(cohortId, { limit: membersPerPage, cursor }),
      deps.store.listCohorts(),
    ]);
    const summary = cohorts.find((cohort) => cohort.cohortId === cohortId);
    return c.html(
      <CohortPage {...pageOf(ctx, c)} cohortId={cohortId} summary={summary} page={page} cursor={cursor} />,
    );
  });
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
