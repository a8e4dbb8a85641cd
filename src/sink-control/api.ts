/**
 * @module The `/sinks` API, behind the receiver's secret: status, pause, resume and backfill of a
 * sink, release and discard of a held cohort. What `npm run sinks` and `npm run backfill` call.
 */
import { createHash } from 'node:crypto';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from '../core/http/app-env.ts';
import type { ControlStatus, SinkControl, SinkStatus } from '../core/sinks/control.ts';
import { ControlRefusal } from '../core/sinks/control.ts';

/** Snake case, as the rest of the API answers. */
export function sinkJson(sink: SinkStatus) {
  return {
    name: sink.name,
    cohorts: sink.route.cohorts,
    directions: sink.route.directions,
    paused: sink.paused && { at: new Date(sink.paused.at).toISOString(), by: sink.paused.by },
    waiting: sink.waiting,
    held: sink.held,
    backfill: sink.backfill && {
      cohorts_left: sink.backfill.cohorts,
      sent: sink.backfill.sent,
      total: sink.backfill.total,
      started_at: new Date(sink.backfill.started.at).toISOString(),
      started_by: sink.backfill.started.by,
    },
  };
}

export function statusJson(status: ControlStatus) {
  return {
    sinks: status.sinks.map(sinkJson),
    holds: status.holds.map((hold) => ({
      cohort_id: hold.cohortId,
      cohort_name: hold.cohortName,
      tripped_at: new Date(hold.trippedAt).toISOString(),
      window_opened_at: new Date(hold.windowOpenedAt).toISOString(),
      members_at_open: hold.membersAtOpen,
      exits: hold.exits,
      max_exit_ratio: hold.maxExitRatio,
    })),
  };
}

/** A path parameter of the route matched (Hono types it loosely on a handler built apart). */
const param = (c: Context<AppEnv>, name: string) => c.req.param(name) as string;

/** Who acted, for the log: the fingerprint of the token presented (as the inspector's action log). */
function who(c: Context<AppEnv>, header: string): string {
  const presented = (c.req.header(header) ?? '').replace(/^Bearer\s+/i, '');
  if (presented === '') return 'api (no token)';
  return `api ${createHash('sha256').update(presented).digest('hex').slice(0, 8)}`;
}

export function mountControlApi(options: {
  app: Hono<AppEnv>;
  auth: MiddlewareHandler<AppEnv>;
  control: SinkControl;
  authHeader: string;
  logger: Logger;
}): void {
  const { app, auth, control, authHeader } = options;
  const refused = (c: Context<AppEnv>, error: unknown) => {
    if (!(error instanceof ControlRefusal)) throw error;
    c.get('logLine').reason = error.code;
    options.logger.warn({ code: error.code, detail: error.message }, 'sink control request refused');
    return c.json({ error: error.code, message: error.message }, error.status);
  };
  const act = (run: (c: Context<AppEnv>, by: string) => Promise<unknown>) => async (c: Context<AppEnv>) => {
    try {
      return c.json((await run(c, who(c, authHeader))) as object);
    } catch (error) {
      return refused(c, error);
    }
  };
  app.get('/sinks', auth, async (c) => c.json(statusJson(await control.status())));
  app.post(
    '/sinks/:sink/pause',
    auth,
    act(async (c, by) => sinkJson(await control.pause(param(c, 'sink'), by))),
  );
  app.post(
    '/sinks/:sink/resume',
    auth,
    act(async (c, by) => sinkJson(await control.resume(param(c, 'sink'), by))),
  );
  app.post(
    '/sinks/:sink/backfill',
    auth,
    act(async (c, by) =>
      sinkJson(await control.backfill(param(c, 'sink'), { cohortId: c.req.query('cohort_id') }, by)),
    ),
  );
  app.post(
    '/holds/:cohort_id/release',
    auth,
    act(async (c, by) => control.release(param(c, 'cohort_id'), by)),
  );
  app.post(
    '/holds/:cohort_id/discard',
    auth,
    act(async (c, by) => control.discard(param(c, 'cohort_id'), by)),
  );
}
