/**
 * @module The SinkControl port, on a ControlStore: checks what an operator asks, does it, logs who
 * did it, and wakes the runner. Works in every process (a ROLE=receiver too): the state is shared
 * through the store, and the processes that send run it.
 */
import type { Logger } from 'pino';
import {
  ControlRefusal,
  type ControlStatus,
  type SinkControl,
  type SinkStatus,
} from '../core/sinks/control.ts';
import { routesMembersOf, type SinkRoute } from '../core/sinks/route.ts';
import type { MembershipStore } from '../core/store/store.ts';
import type { ControlStore } from './control-store.ts';

export function createSinkControl(options: {
  control: ControlStore;
  /** Every sink SINKS names, with its route. */
  routes: ReadonlyMap<string, SinkRoute>;
  /** Absent in a ROLE=receiver process: a backfill then cannot be planned here. */
  store: Pick<MembershipStore, 'listCohorts'> | undefined;
  logger: Logger;
  /** Called after each action, so this process's runner looks at once. */
  onChange?: () => void;
  now?: () => number;
}): SinkControl {
  const { control, routes, logger } = options;
  const now = options.now ?? Date.now;
  const onChange = options.onChange ?? (() => {});

  const status = async (): Promise<ControlStatus> => {
    const [state, backlogs] = await Promise.all([control.state(), control.backlogs([...routes.keys()])]);
    const sinks = [...routes].map(
      ([name, route]): SinkStatus => ({
        name,
        route,
        paused: state.paused[name] ?? null,
        waiting: backlogs.find((backlog) => backlog.sink === name)?.waiting ?? 0,
        held: backlogs.find((backlog) => backlog.sink === name)?.held ?? 0,
        backfill: state.backfills[name] ?? null,
      }),
    );
    const holds = Object.values(state.holds).sort((a, b) => a.trippedAt - b.trippedAt);
    return { sinks, holds };
  };
  const statusOf = async (sink: string) =>
    (await status()).sinks.find((one) => one.name === sink) as SinkStatus;
  const known = (sink: string) => {
    if (!routes.has(sink)) {
      const names = [...routes.keys()];
      throw new ControlRefusal(
        404,
        'unknown_sink',
        `no sink named "${sink}"; SINKS names ${names.length > 0 ? names.join(', ') : 'none'}`,
      );
    }
  };
  const held = async (cohortId: string) => {
    if ((await control.state()).holds[cohortId] === undefined) {
      throw new ControlRefusal(404, 'not_held', `cohort "${cohortId}" is not held`);
    }
  };

  return {
    status,
    async pause(sink, by) {
      known(sink);
      await control.pause(sink, { at: now(), by });
      logger.info({ sink, who: by }, 'sink paused: its changes wait until it is resumed');
      onChange();
      return statusOf(sink);
    },
    async resume(sink, by) {
      known(sink);
      await control.resume(sink);
      logger.info({ sink, who: by }, 'sink resumed');
      onChange();
      return statusOf(sink);
    },
    async backfill(sink, { cohortId }, by) {
      known(sink);
      if (options.store === undefined) {
        throw new ControlRefusal(409, 'no_store', 'this process has no store (ROLE=receiver): ask a worker');
      }
      if ((await control.state()).backfills[sink] !== undefined) {
        throw new ControlRefusal(409, 'backfill_running', `sink "${sink}" is already backfilling`);
      }
      const route = routes.get(sink) as SinkRoute;
      const cohorts = (await options.store.listCohorts()).filter(
        (cohort) =>
          routesMembersOf(route, cohort) && (cohortId === undefined || cohort.cohortId === cohortId),
      );
      if (cohortId !== undefined && cohorts.length === 0) {
        throw new ControlRefusal(
          404,
          'cohort_not_routed',
          `sink "${sink}" does not take members of cohort "${cohortId}" (unknown, or not in its SINK_*_COHORTS / DIRECTIONS)`,
        );
      }
      const total = cohorts.reduce((sum, cohort) => sum + cohort.members, 0);
      await control.setBackfill(sink, {
        sink,
        cohorts: cohorts.map((cohort) => cohort.cohortId),
        cursor: null,
        sent: 0,
        total,
        started: { at: now(), by },
      });
      logger.info({ sink, who: by, cohorts: cohorts.length, members: total }, 'backfill started');
      onChange();
      return statusOf(sink);
    },
    async release(cohortId, by) {
      await held(cohortId);
      const changes = await control.release(cohortId);
      await control.closeWindow(cohortId);
      logger.info(
        { cohort_id: cohortId, who: by, changes },
        'mass-exit hold released: its changes go to the sinks',
      );
      onChange();
      return { changes };
    },
    async discard(cohortId, by) {
      await held(cohortId);
      const changes = await control.discard(cohortId);
      await control.closeWindow(cohortId);
      logger.info(
        { cohort_id: cohortId, who: by, changes },
        'mass-exit hold discarded: the sinks keep what they had',
      );
      onChange();
      return { changes };
    },
  };
}
