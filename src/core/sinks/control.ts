/**
 * @module The SinkControl port: what an operator does to sinks — pause, resume, backfill — and to
 * cohorts the mass-exit guard holds — release, discard. The sink-control extra implements it; the
 * inspector and the `/sinks` API call it (docs/sinks.md#pause-and-resume).
 */
import type { SinkRoute } from './route.ts';

/** Who did it and when (epoch ms). */
export interface Stamp {
  at: number;
  by: string;
}

/** Why the guard holds a cohort: the numbers that tripped it. */
export interface Hold {
  cohortId: string;
  cohortName: string;
  /** When the removals crossed the ratio, epoch ms. */
  trippedAt: number;
  /** When the window the removals were counted in opened, epoch ms. */
  windowOpenedAt: number;
  membersAtOpen: number;
  exits: number;
  maxExitRatio: number;
}

/** A backfill of one sink: the cohorts it sends, where it is, how far it got. */
export interface Backfill {
  sink: string;
  /** Cohort ids still to send, in order; the first is the one being sent. */
  cohorts: string[];
  /** The members cursor within the first cohort (null: from its first member). */
  cursor: string | null;
  sent: number;
  /** Members of those cohorts when it started: what the progress is measured against. */
  total: number;
  started: Stamp;
}

export interface SinkStatus {
  name: string;
  route: SinkRoute;
  paused: Stamp | null;
  /** Changes that go out once it runs: waiting behind a pause, a backfill or older changes. */
  waiting: number;
  /** Changes of held cohorts, going out on release. */
  held: number;
  backfill: Backfill | null;
}

export interface ControlStatus {
  sinks: SinkStatus[];
  holds: Hold[];
}

/** A request an operator cannot have: answered 404 or 409 with `code` and `message`. */
export class ControlRefusal extends Error {
  override name = 'ControlRefusal';
  constructor(
    readonly status: 404 | 409,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SinkControl {
  status(): Promise<ControlStatus>;
  /** @throws ControlRefusal for a sink `SINKS` does not name. */
  pause(sink: string, by: string): Promise<SinkStatus>;
  resume(sink: string, by: string): Promise<SinkStatus>;
  /**
   * Sends the sink the members of the cohorts it routes (or only `cohortId`), as `entered` changes.
   * @throws ControlRefusal when the sink is unknown, already backfilling, or routes no such cohort.
   */
  backfill(sink: string, options: { cohortId?: string | undefined }, by: string): Promise<SinkStatus>;
  /** Lets a held cohort's changes go, in order. @throws ControlRefusal when it is not held. */
  release(cohortId: string, by: string): Promise<{ changes: number }>;
  /** Drops a held cohort's changes: the sinks keep what they had. @throws ControlRefusal when it is not held. */
  discard(cohortId: string, by: string): Promise<{ changes: number }>;
}
