/** @module Overview and Retention. */
import { Hono } from 'hono';
import { type InspectorContext, pageOf } from '../context.ts';
import { difference, readTotals } from '../counters.ts';
import type { InspectorEnv } from '../env.ts';
import { OverviewPage } from '../views/overview.tsx';
import { RetentionPage } from '../views/retention.tsx';
import { readHolds } from './sink-routes.tsx';

const failure = (error: unknown) => ({ error: (error as Error).message });

export function overviewRoutes(ctx: InspectorContext) {
  const { deps } = ctx;
  const app = new Hono<InspectorEnv>();
  app.get('/', async (c) => {
    const [sinceStart, queue, latest, retention] = await Promise.all([
      readTotals(deps.metrics.registry),
      deps.queue.stats().catch(failure),
      deps.deliveryLog.list({ outcome: 'accepted', limit: 1 }).catch(() => ({ deliveries: [] })),
      deps.deliveryLog.retention().catch(failure),
    ]);
    const now = ctx.now();
    const baseline = ctx.history.baseline();
    return c.html(
      <OverviewPage
        {...pageOf(ctx, c)}
        sinceStart={sinceStart}
        lastHour={baseline ? difference(sinceStart, baseline.totals) : sinceStart}
        lastHourFrom={baseline?.at ?? ctx.startedAt}
        queue={queue}
        lastBatchAt={latest.deliveries[0]?.receivedAt ?? null}
        retention={retention}
        mode={deps.mode}
        holds={await readHolds(ctx)}
        version={ctx.version}
        uptimeMs={now - ctx.startedAt}
        now={now}
      />,
    );
  });
  app.get('/retention', async (c) =>
    c.html(<RetentionPage {...pageOf(ctx, c)} retention={await deps.deliveryLog.retention()} />),
  );
  return app;
}
