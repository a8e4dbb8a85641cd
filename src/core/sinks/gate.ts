/**
 * @module The SinkGate port: what may hold a sink's changes back instead of sending them now — a
 * paused sink, a cohort held by the mass-exit guard, a backlog still draining. The core sends
 * everything at once without one; the sink-control extra (src/sink-control/) plugs one in.
 */
import type { MembershipChange } from '../store/store.ts';

export interface SinkGate {
  /**
   * Given each sink's routed changes of one applied batch (and all of the batch's changes, for
   * checks across sinks), keeps durably what must wait and resolves with what each sink gets now.
   * The batch leaves the queue once it resolves, so what it kept must survive a restart.
   */
  admit(
    routed: ReadonlyMap<string, readonly MembershipChange[]>,
    all: readonly MembershipChange[],
  ): Promise<ReadonlyMap<string, readonly MembershipChange[]>>;
}
