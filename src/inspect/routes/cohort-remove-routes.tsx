/**
 * @module Removing a cohort (the ones `npm run simulate` leaves behind): a confirm page, then one
 * POST, logged as an inspector action. The read API's `DELETE /cohorts/:cohort_id` does the same.
 */
import { type Context, Hono } from 'hono';
import { StoreUnavailableError } from '../../core/errors.ts';
import { type InspectorContext, logAction, pageOf } from '../context.ts';
import type { InspectorEnv } from '../env.ts';
import { reject } from '../reject.tsx';
import { CohortRemoveConfirmPage, CohortRemovedPage } from '../views/cohort-remove.tsx';
import { NoStorePage } from '../views/cohorts.tsx';

export function cohortRemoveRoutes(ctx: InspectorContext) {
  const { base, deps } = ctx;
  const app = new Hono<InspectorEnv>();

  /** A store away answers 503 with Retry-After, as the member downloads do; anything else is a 500. */
  const whenStoreAway = (c: Context<InspectorEnv>, error: unknown) => {
    if (!(error instanceof StoreUnavailableError)) throw error;
    c.header('Retry-After', String(error.retryAfterSeconds));
    return reject(c, base, 503, error.reason, 'The store cannot be reached now: try again in a moment.');
  };

  app.get('/cohort/remove', async (c) => {
    const { store } = deps;
    if (!store) return c.html(<NoStorePage {...pageOf(ctx, c)} />, 409);
    const cohortId = c.req.query('id');
    if (!cohortId) return reject(c, base, 400, 'cohort_id_required', 'Give a cohort id.');
    let cohorts: Awaited<ReturnType<typeof store.listCohorts>>;
    try {
      cohorts = await store.listCohorts();
    } catch (error) {
      return whenStoreAway(c, error);
    }
    const cohort = cohorts.find((one) => one.cohortId === cohortId);
    if (!cohort) {
      return c.html(<CohortRemovedPage {...pageOf(ctx, c)} cohortId={cohortId} removed={false} />, 404);
    }
    return c.html(<CohortRemoveConfirmPage {...pageOf(ctx, c)} cohort={cohort} />);
  });

  app.post('/cohort/remove', async (c) => {
    const { store } = deps;
    if (!store) return c.html(<NoStorePage {...pageOf(ctx, c)} />, 409);
    const form = await c.req.parseBody();
    const cohortId = form.id;
    if (typeof cohortId !== 'string' || cohortId === '') {
      return reject(c, base, 400, 'cohort_id_required', 'Name the cohort (from the confirm page).');
    }
    c.get('logLine').cohort_id = cohortId;
    let removed: boolean;
    try {
      removed = await store.removeCohort(cohortId);
    } catch (error) {
      return whenStoreAway(c, error);
    }
    logAction(ctx, c, 'remove_cohort', { cohort_id: cohortId, removed });
    return c.html(
      <CohortRemovedPage {...pageOf(ctx, c)} cohortId={cohortId} removed={removed} />,
      removed ? 200 : 404,
    );
  });

  return app;
}
