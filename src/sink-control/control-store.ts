/**
 * @module Where sink control keeps its state, beside the queue (memory, the SQLite inbox file, or
 * Redis): which sinks are paused, which cohorts the mass-exit guard holds, each sink's backfill and
 * its cursor, the guard's windows, and the changes that wait. One implementation per home.
 */
import type { Backfill, Hold, Stamp } from '../core/sinks/control.ts';
import type { MembershipChange } from '../core/store/store.ts';

export type { Backfill, Hold, Stamp };

/** The guard's count for one cohort within the current window. */
export interface ExitWindow {
  openedAt: number;
  membersAtOpen: number;
  exits: number;
}

export interface ControlState {
  paused: Record<string, Stamp>;
  holds: Record<string, Hold>;
  backfills: Record<string, Backfill>;
}

/** A change that waits, with its place in its sink's order. */
export interface WaitingChange {
  seq: number;
  change: MembershipChange;
}

export interface SinkBacklog {
  sink: string;
  /** Changes that go out once the sink is running (not paused, no backfill before them). */
  waiting: number;
  /** Changes of held cohorts, going out on release. */
  held: number;
}

export interface ControlStore {
  state(): Promise<ControlState>;
  /**
   * Decides, atomically with pause, hold and release, which of one sink's changes go now: those of
   * a held cohort wait as held; while the sink is paused, backfilling or has changes waiting, the
   * rest wait behind them; what is left is returned, to be sent now.
   */
  admit(sink: string, changes: readonly MembershipChange[]): Promise<MembershipChange[]>;
  /** The oldest waiting (not held) changes of a sink, in order. */
  waiting(sink: string, limit: number): Promise<WaitingChange[]>;
  /** Forgets waiting changes once the sink has them (or they are dead letters). */
  remove(sink: string, seqs: readonly number[]): Promise<void>;
  backlogs(sinks: readonly string[]): Promise<SinkBacklog[]>;
  pause(sink: string, stamp: Stamp): Promise<void>;
  resume(sink: string): Promise<void>;
  /** Starts (or replaces) a backfill; null ends it. */
  setBackfill(sink: string, backfill: Backfill | null): Promise<void>;
  /** Holds a cohort's changes from now on; a cohort already held keeps its first hold. */
  hold(hold: Hold): Promise<void>;
  /** Ends a hold: its changes join each sink's waiting changes, in their order. Returns how many. */
  release(cohortId: string): Promise<number>;
  /** Ends a hold and drops its changes. Returns how many. */
  discard(cohortId: string): Promise<number>;
  /**
   * Counts `exits` removals of a cohort into its window, opening a new one (with `membersBefore`)
   * when none is open or the open one is older than `windowMs`. Returns the window after.
   */
  countExits(
    cohortId: string,
    count: { exits: number; membersBefore: number; now: number; windowMs: number },
  ): Promise<ExitWindow>;
  /** Starts the cohort's count afresh (after a release or a discard). */
  closeWindow(cohortId: string): Promise<void>;
  /** True when `owner` may run the sink's drain and backfill for `ttlMs` (one process at a time). */
  lease(sink: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease back (at a stop), so the next process need not wait for it to expire. */
  unlease(sink: string, owner: string): Promise<void>;
}
