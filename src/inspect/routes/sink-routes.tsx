/**
 * @module Sinks: their state, pause / resume / backfill of one, and release / discard of a cohort
 * the mass-exit guard holds, through the SinkControl port (the sink-control extra). Every action is a
 * GET confirm page, then a form POST (the CSRF check of every POST), logged with who did it.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { ControlRefusal, type SinkControl, type SinkStatus } from '../../core/sinks/control.ts';
import { routesMembersOf } from '../../core/sinks/route.ts';
import { type InspectorContext, logAction, pageOf } from '../context.ts';
import type { InspectorEnv } from '../env.ts';
import { reject } from '../reject.tsx';
import { parseRange, readBuckets, windowOf } from '../views/chart.tsx';
import {
  type HoldAction,
  HoldConfirmPage,
  HoldDonePage,
  type HoldsRead,
  NoSinkControlPage,
  type SinkAction,
  type SinkCharts,
  SinkConfirmPage,
  SinkDonePage,
  SinksPage,
  sinkSeriesNames,
} from '../views/sinks.tsx';

const isSinkAction = (value: unknown): value is SinkAction =>
  value === 'pause' || value === 'resume' || value === 'backfill';
const isHoldAction = (value: unknown): value is HoldAction => value === 'release' || value === 'discard';

/** Sink names come from SINKS, cohort ids from Amplitude: short either way. */
const validName = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= 500;

export function sinkRoutes(ctx: InspectorContext) {
  const { base, deps } = ctx;
  const app = new Hono<InspectorEnv>();
  // Read at each request: the extension offering it may attach after the inspector.
  const control = () => deps.sinkControl;
  const absent = (c: Context<InspectorEnv>) =>
    reject(c, base, 404, 'no_sink_control', 'Sink control is not part of this receiver.');
  const refused = (
    c: Context<InspectorEnv>,
    error: unknown,
    action: string,
    fields: Record<string, unknown>,
  ) => {
    if (!(error instanceof ControlRefusal)) throw error;
    logAction(ctx, c, action, { ...fields, refused: error.code });
    return reject(c, base, error.status, error.code, error.message);
  };
  /** Who the sink-control log and the "paused by" stamp name: the session's token fingerprint. */
  const by = (c: Context<InspectorEnv>) => `inspector ${c.get('who')}`;
  const findSink = async (sinks: SinkControl, c: Context<InspectorEnv>, name: string | undefined) => {
    const { sinks: all } = await sinks.status();
    const sink = all.find((one) => one.name === name);
    if (sink !== undefined) return sink;
    const names = all.map((one) => one.name);
    return reject(
      c,
      base,
      404,
      'unknown_sink',
      `No sink named "${name ?? ''}"; SINKS names ${names.length > 0 ? names.join(', ') : 'none'}.`,
    );
  };

  app.get('/sinks', async (c) => {
    const sinks = control();
    if (sinks === undefined) return c.html(<NoSinkControlPage {...pageOf(ctx, c)} />);
    const [status, cohorts] = await Promise.all([sinks.status(), deps.store?.listCohorts()]);
    const range = parseRange(c.req.query('range'));
    const series = deps.series;
    const names = status.sinks.flatMap((sink) => Object.values(sinkSeriesNames(sink.name)));
    const charts: SinkCharts =
      series === undefined
        ? { absent: true }
        : await readBuckets(series, names, windowOf(range, ctx.now())).then(
            (buckets) => ({ buckets }),
            (error: unknown) => ({ error: (error as Error).message }),
          );
    const backfillCohorts =
      cohorts &&
      new Map(
        status.sinks.map((sink) => [
          sink.name,
          cohorts.filter((cohort) => routesMembersOf(sink.route, cohort)),
        ]),
      );
    return c.html(
      <SinksPage
        {...pageOf(ctx, c)}
        sinks={status.sinks}
        holds={status.holds}
        backfillCohorts={backfillCohorts}
        now={ctx.now()}
        range={range}
        charts={charts}
      />,
    );
  });

  app.get('/sinks/:action', async (c) => {
    const action = c.req.param('action');
    if (!isSinkAction(action)) return reject(c, base, 404, 'not_found', 'No such inspector page.');
    const sinks = control();
    if (sinks === undefined) return absent(c);
    const sink = await findSink(sinks, c, c.req.query('sink'));
    if (sink instanceof Response) return sink;
    if (action === 'backfill' && sink.backfill !== null) {
      return reject(c, base, 409, 'backfill_running', `Sink "${sink.name}" is already backfilling.`);
    }
    const cohortId = c.req.query('cohort_id') || undefined;
    let cohort: { cohortId: string; cohortName: string } | undefined;
    if (action === 'backfill' && cohortId !== undefined) {
      const summary = (await deps.store?.listCohorts())?.find((one) => one.cohortId === cohortId);
      cohort = { cohortId, cohortName: summary?.cohortName ?? cohortId };
    }
    return c.html(
      <SinkConfirmPage {...pageOf(ctx, c)} action={action} sink={sink} cohort={cohort} now={ctx.now()} />,
    );
  });

  app.post('/sinks/:action', async (c) => {
    const action = c.req.param('action');
    if (!isSinkAction(action)) return reject(c, base, 404, 'not_found', 'No such inspector page.');
    const sinks = control();
    if (sinks === undefined) return absent(c);
    const form = await c.req.parseBody();
    if (!validName(form.sink))
      return reject(c, base, 400, 'sink_required', 'Name the sink (from the confirm page).');
    const name = form.sink;
    const cohortId = validName(form.cohort_id) ? form.cohort_id : undefined;
    const fields = { sink: name, ...(cohortId === undefined ? {} : { cohort_id: cohortId }) };
    let sink: SinkStatus;
    try {
      sink =
        action === 'pause'
          ? await sinks.pause(name, by(c))
          : action === 'resume'
            ? await sinks.resume(name, by(c))
            : await sinks.backfill(name, { cohortId }, by(c));
    } catch (error) {
      return refused(c, error, action, fields);
    }
    logAction(ctx, c, action, {
      ...fields,
      ...(action === 'backfill' && sink.backfill ? { members: sink.backfill.total } : {}),
    });
    return c.html(<SinkDonePage {...pageOf(ctx, c)} action={action} sink={sink} now={ctx.now()} />);
  });

  app.get('/holds/:action', async (c) => {
    const action = c.req.param('action');
    if (!isHoldAction(action)) return reject(c, base, 404, 'not_found', 'No such inspector page.');
    const sinks = control();
    if (sinks === undefined) return absent(c);
    const cohortId = c.req.query('cohort_id');
    if (!validName(cohortId)) return reject(c, base, 400, 'cohort_id_required', 'Give a cohort id.');
    const status = await sinks.status();
    const hold = status.holds.find((one) => one.cohortId === cohortId);
    if (hold === undefined) return reject(c, base, 404, 'not_held', `Cohort "${cohortId}" is not held.`);
    const heldChanges = status.sinks.reduce((sum, sink) => sum + sink.held, 0);
    return c.html(
      <HoldConfirmPage {...pageOf(ctx, c)} action={action} hold={hold} heldChanges={heldChanges} />,
    );
  });

  app.post('/holds/:action', async (c) => {
    const action = c.req.param('action');
    if (!isHoldAction(action)) return reject(c, base, 404, 'not_found', 'No such inspector page.');
    const sinks = control();
    if (sinks === undefined) return absent(c);
    const form = await c.req.parseBody();
    if (!validName(form.cohort_id)) {
      return reject(c, base, 400, 'cohort_id_required', 'Name the cohort (from the confirm page).');
    }
    const cohortId = form.cohort_id;
    // Its name, for the page: gone from the holds once released.
    const cohortName =
      (await sinks.status()).holds.find((hold) => hold.cohortId === cohortId)?.cohortName ?? cohortId;
    let changes: number;
    try {
      ({ changes } =
        action === 'release' ? await sinks.release(cohortId, by(c)) : await sinks.discard(cohortId, by(c)));
    } catch (error) {
      return refused(c, error, action, { cohort_id: cohortId });
    }
    logAction(ctx, c, action, { cohort_id: cohortId, changes });
    return c.html(
      <HoldDonePage
        {...pageOf(ctx, c)}
        action={action}
        cohortId={cohortId}
        cohortName={cohortName}
        changes={changes}
      />,
    );
  });

  return app;
}

/** The mass-exit holds for a page's banner (the overview, a cohort's page); undefined without sink control. */
export async function readHolds(ctx: InspectorContext): Promise<HoldsRead | undefined> {
  const sinks = ctx.deps.sinkControl;
  if (sinks === undefined) return undefined;
  try {
    return { holds: (await sinks.status()).holds };
  } catch (error) {
    ctx.deps.logger.warn({ err: error }, 'inspector: could not read the mass-exit holds');
    return { error: (error as Error).message };
  }
}
