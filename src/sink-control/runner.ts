/**
 * @module Runs what waits for each sink of this process: a backfill first (page by page, its
 * cursor saved after each), then the changes kept while it was paused, backfilling or behind older
 * ones, oldest first. Everything goes through the dispatcher's per-user lanes, with the sink's rate
 * limit, retries and dead letters. One process at a time runs a sink (a lease in the control store).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Backfill } from '../core/sinks/control.ts';
import type { SinkDispatcher } from '../core/sinks/dispatcher.ts';
import { everything, routeMatcher, type SinkRoute } from '../core/sinks/route.ts';
import type { MembershipChange, MembershipStore } from '../core/store/store.ts';
import type { ControlStore } from './control-store.ts';

export interface RunnerOptions {
  control: ControlStore;
  dispatcher: Pick<SinkDispatcher, 'deliver'>;
  store: Pick<MembershipStore, 'listMembers' | 'listCohorts'>;
  /** The sinks this process sends to, with their routes. */
  routes: ReadonlyMap<string, SinkRoute>;
  logger: Logger;
  /** Changes per drained chunk and members per backfill page. @default 500 */
  pageSize?: number;
  /** How often to look when there is nothing to do. @default 250 */
  idleMs?: number;
  /** How long a lease lasts without renewal: another process takes over a dead one's sink after it. @default 15_000 */
  leaseMs?: number;
}

export interface Runner {
  /** Looks now instead of at the next idle tick (a change was kept, an operator acted). */
  wake(): void;
  /** Stops after the step in hand; what is left stays in the control store for the next start. */
  close(): Promise<void>;
}

export function startRunner(options: RunnerOptions): Runner {
  const { control, dispatcher, store, logger } = options;
  const pageSize = options.pageSize ?? 500;
  const idleMs = options.idleMs ?? 250;
  const leaseMs = options.leaseMs ?? 15_000;
  const owner = randomUUID();
  const closing = new AbortController();
  let wakeUp = new AbortController();
  const names = new Map<string, string>();
  // A long backfill says how far it got every so often, not only once per cohort.
  const progressLogMs = 10_000;
  let lastProgressLog = Date.now();

  const cohortName = async (cohortId: string) => {
    if (!names.has(cohortId)) {
      for (const cohort of await store.listCohorts()) names.set(cohort.cohortId, cohort.cohortName);
    }
    return names.get(cohortId) ?? cohortId;
  };

  /** One page of a backfill; true while there is more. */
  const backfillPage = async (sink: string, backfill: Backfill): Promise<boolean> => {
    const [cohortId] = backfill.cohorts;
    if (cohortId === undefined) {
      await control.setBackfill(sink, null);
      logger.info({ sink, sent: backfill.sent, total: backfill.total }, 'backfill done');
      return false;
    }
    const page = await store.listMembers(cohortId, { limit: pageSize, cursor: backfill.cursor ?? undefined });
    const name = await cohortName(cohortId);
    const takes = routeMatcher(options.routes.get(sink) ?? everything);
    const changes: MembershipChange[] = page.members
      .map(
        (member): MembershipChange => ({
          cohortId,
          cohortName: name,
          userId: member.userId,
          kind: 'entered',
          computedTime: member.since,
          messageId: member.messageId,
          ...(member.properties === null ? {} : { properties: member.properties }),
          // The state the register already held, sent again: what `restated` means to a sink.
          restated: true,
        }),
      )
      .filter(takes);
    await dispatcher.deliver(sink, changes);
    const next: Backfill =
      page.nextCursor === null
        ? {
            ...backfill,
            cohorts: backfill.cohorts.slice(1),
            cursor: null,
            sent: backfill.sent + changes.length,
          }
        : { ...backfill, cursor: page.nextCursor, sent: backfill.sent + changes.length };
    await control.setBackfill(sink, next);
    if (page.nextCursor === null) {
      logger.info({ sink, cohort_id: cohortId, sent: next.sent }, 'backfill: cohort sent');
    } else if (Date.now() - lastProgressLog >= progressLogMs) {
      lastProgressLog = Date.now();
      logger.info({ sink, cohort_id: cohortId, sent: next.sent, total: next.total }, 'backfill: progress');
    }
    return true;
  };

  /** One chunk of waiting changes; true while there is more. */
  const drainChunk = async (sink: string): Promise<boolean> => {
    const chunk = await control.waiting(sink, pageSize);
    if (chunk.length === 0) return false;
    await dispatcher.deliver(
      sink,
      chunk.map((one) => one.change),
    );
    await control.remove(
      sink,
      chunk.map((one) => one.seq),
    );
    return true;
  };

  /** Holds the sink's lease while `work` runs, however long its retries take. */
  const leased = async (sink: string, work: () => Promise<boolean>): Promise<boolean> => {
    if (!(await control.lease(sink, owner, leaseMs))) return false;
    leasedSinks.add(sink);
    const renew = () => {
      if (!closing.signal.aborted) void control.lease(sink, owner, leaseMs).catch(() => undefined);
    };
    const renewing = setInterval(renew, leaseMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(renewing);
    }
  };
  const leasedSinks = new Set<string>();

  /** One step for every sink this process may run; true when any had work. */
  const step = async (): Promise<boolean> => {
    const state = await control.state();
    let busy = false;
    for (const sink of options.routes.keys()) {
      if (closing.signal.aborted) break;
      if (state.paused[sink] !== undefined) continue;
      const backfill = state.backfills[sink];
      busy = (await leased(sink, () => (backfill ? backfillPage(sink, backfill) : drainChunk(sink)))) || busy;
    }
    return busy;
  };

  const loop = (async () => {
    let failures = 0;
    while (!closing.signal.aborted) {
      let busy = false;
      try {
        busy = await step();
        failures = 0;
      } catch (error) {
        if (closing.signal.aborted) break;
        failures += 1;
        // A backend away or a dead letter that could not be written: the step is tried again later.
        if (failures === 1 || failures % 60 === 0)
          logger.warn({ err: error, failures }, 'sink control: step failed');
      }
      if (busy) continue;
      const signal = AbortSignal.any([closing.signal, wakeUp.signal]);
      await sleep(failures > 0 ? Math.min(5000, idleMs * 2 ** failures) : idleMs, undefined, {
        signal,
      }).catch(() => undefined);
      if (wakeUp.signal.aborted) wakeUp = new AbortController();
    }
  })();

  return {
    wake: () => wakeUp.abort(),
    async close() {
      closing.abort();
      // A send retrying with backoff ends when the dispatcher closes, after this: do not wait for it.
      await Promise.race([loop, sleep(1000)]);
      // The next process (a restart) takes over at once rather than when the leases expire.
      await Promise.all([...leasedSinks].map((sink) => control.unlease(sink, owner).catch(() => undefined)));
    },
  };
}
