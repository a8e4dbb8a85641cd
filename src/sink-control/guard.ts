/**
 * @module The mass-exit guard: counts each cohort's effective removals within a window and, when
 * they would take out more than a share of the members the cohort had when the window opened,
 * holds that cohort's changes at every sink. Only effective changes count — a repeated batch or a
 * stale removal makes none — so duplicates and reordering cannot trip it; restated changes (a batch
 * delivered again) do not count either. Only an operator ends a hold.
 */
import type { Logger } from 'pino';
import type { MembershipChange, MembershipStore } from '../core/store/store.ts';
import type { ControlStore, Hold } from './control-store.ts';

export interface GuardSettings {
  windowMs: number;
  maxExitRatio: number;
  minMembers: number;
}

export type Guard = (changes: readonly MembershipChange[]) => Promise<void>;

export function createGuard(options: {
  control: ControlStore;
  store: Pick<MembershipStore, 'listCohorts'>;
  settings: GuardSettings;
  logger: Logger;
  now?: () => number;
}): Guard {
  const { control, store, settings, logger } = options;
  const now = options.now ?? Date.now;
  return async function observe(changes) {
    const byCohort = countByCohort(changes);
    if (byCohort.size === 0) return;
    const { holds } = await control.state();
    for (const [cohortId, counted] of byCohort) {
      if (holds[cohortId] !== undefined) continue;
      // The store has applied the batch: before it, the cohort had the exits back and the entries not.
      const summary = (await store.listCohorts()).find((cohort) => cohort.cohortId === cohortId);
      const membersBefore = (summary?.members ?? 0) + counted.exits - counted.entered;
      const at = now();
      const window = await control.countExits(cohortId, {
        exits: counted.exits,
        membersBefore,
        now: at,
        windowMs: settings.windowMs,
      });
      if (window.membersAtOpen < settings.minMembers) continue;
      if (window.exits <= settings.maxExitRatio * window.membersAtOpen) continue;
      const hold: Hold = {
        cohortId,
        cohortName: counted.cohortName,
        trippedAt: at,
        windowOpenedAt: window.openedAt,
        membersAtOpen: window.membersAtOpen,
        exits: window.exits,
        maxExitRatio: settings.maxExitRatio,
      };
      await control.hold(hold);
      logger.warn(
        {
          cohort_id: cohortId,
          cohort_name: counted.cohortName,
          exits: window.exits,
          members_at_open: window.membersAtOpen,
          window_opened_at: new Date(window.openedAt).toISOString(),
          max_exit_ratio: settings.maxExitRatio,
        },
        'mass exit: the sinks hold this cohort’s changes until an operator releases or discards them',
      );
    }
  };
}

/** Each cohort with effective removals: how many, and how many entered in the same changes. */
function countByCohort(changes: readonly MembershipChange[]) {
  const counts = new Map<string, { cohortName: string; exits: number; entered: number }>();
  for (const change of changes) {
    if (change.restated) continue;
    const counted = counts.get(change.cohortId) ?? { cohortName: change.cohortName, exits: 0, entered: 0 };
    if (change.kind === 'left') counted.exits += 1;
    else if (change.kind === 'entered') counted.entered += 1;
    counts.set(change.cohortId, counted);
  }
  for (const [cohortId, counted] of counts) if (counted.exits === 0) counts.delete(cohortId);
  return counts;
}
