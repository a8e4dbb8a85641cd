/** @module Overview and Retention. */
import { Hono } from 'hono';
import { type LetterKind, letterKinds } from '../../core/dead-letters/dead-letters.ts';
import type { ControlStatus } from '../../core/sinks/control.ts';
import { type InspectorContext, pageOf } from '../context.ts';
import { difference, labelValues, readTotals } from '../counters.ts';
import type { InspectorEnv } from '../env.ts';
import { minuteMs, minuteOf } from '../series/series.ts';
import { ackNames, parseRange, readBuckets, windowOf } from '../views/chart.tsx';
import {
  type AttentionRead,
  type LettersHeld,
  type OverviewCharts,
  OverviewPage,
  overviewSeriesNames,
} from '../views/overview.tsx';
import { RetentionPage } from '../views/retention.tsx';

const failure = (error: unknown) => ({ error: (error as Error).message });

/**
 * Letters are counted by listing them (the port has no count): at most this many per kind, so the
 * landing page never reads thousands of 64 KiB bodies; more reads "200+".
 */
export const letterCountCap = 200;
/** "Sinks failing": failed changes within this many minutes, the current one included. */
const recentFailureMinutes = 15;

export function overviewRoutes(ctx: InspectorContext) {
  const { deps } = ctx;
  const app = new Hono<InspectorEnv>();

  const countLetters = async (): Promise<LettersHeld[]> =>
    Promise.all(
      letterKinds.map(async (kind: LetterKind) => {
        const letters = await deps.deadLetters.list({ kind, limit: letterCountCap });
        return {
          kind,
          count: letters.length,
          capped: letters.length >= letterCountCap,
          newestAt: letters[0]?.createdAt ?? null,
        };
      }),
    );

  const controlStatus = async (): Promise<ControlStatus | { error: string } | undefined> => {
    const control = deps.sinkControl;
    if (control === undefined) return undefined;
    try {
      return await control.status();
    } catch (error) {
      deps.logger.warn({ err: error }, 'inspector: could not read the sinks');
      return failure(error);
    }
  };

  app.get('/', async (c) => {
    const now = ctx.now();
    const range = parseRange(c.req.query('range'));
    const window = windowOf(range, now);
    const [sinceStart, queue, latest, retention, letters, status] = await Promise.all([
      readTotals(deps.metrics.registry),
      deps.queue.stats().catch(failure),
      deps.deliveryLog.list({ outcome: 'accepted', limit: 1 }).catch(() => ({ deliveries: [] })),
      deps.deliveryLog.retention().catch(failure),
      countLetters().catch(failure),
      controlStatus(),
    ]);
    // The sinks SINKS names (sink control), else those this process has sent changes to.
    const sinkNames =
      status !== undefined && !('error' in status)
        ? status.sinks.map((sink) => sink.name)
        : labelValues(sinceStart, 'sink_changes_total', 'sink');

    const series = deps.series;
    const recentFrom = minuteOf(now) - (recentFailureMinutes - 1) * minuteMs;
    const failedName = (sink: string) => `sink:${sink}:failed`;
    const [charts, recent] = await Promise.all([
      series === undefined
        ? ({ absent: true } as const)
        : readBuckets(series, overviewSeriesNames(sinkNames, ackNames), window).then(
            (buckets): OverviewCharts => ({ buckets, sinks: sinkNames }),
            failure,
          ),
      series === undefined || sinkNames.length === 0
        ? undefined
        : series.read(sinkNames.map(failedName), recentFrom, minuteOf(now) + minuteMs).catch(failure),
    ]);
    const failedRecently = (sink: string): number | undefined => {
      if (recent === undefined || 'error' in recent) return undefined;
      return recent.reduce((total, point) => total + (point.values[failedName(sink)] ?? 0), 0);
    };

    const attention: AttentionRead = {
      letters,
      queue,
      holds: status === undefined ? undefined : 'error' in status ? status : { holds: status.holds },
      sinks:
        status !== undefined && 'error' in status
          ? status
          : sinkNames.length === 0
            ? undefined
            : sinkNames.map((name) => {
                const sink = status?.sinks.find((one) => one.name === name);
                return {
                  name,
                  failedRecently: failedRecently(name),
                  paused: sink?.paused ?? null,
                  waiting: sink?.waiting ?? 0,
                };
              }),
      seriesError: recent !== undefined && 'error' in recent ? recent.error : undefined,
    };
    const baseline = ctx.history.baseline();
    return c.html(
      <OverviewPage
        {...pageOf(ctx, c)}
        attention={attention}
        range={range}
        window={window}
        charts={charts}
        sinceStart={sinceStart}
        lastHour={baseline ? difference(sinceStart, baseline.totals) : sinceStart}
        lastHourFrom={baseline?.at ?? ctx.startedAt}
        lastBatchAt={latest.deliveries[0]?.receivedAt ?? null}
        retention={retention}
        mode={deps.mode}
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
