/**
 * @module The gate sink control gives the dispatcher: the guard looks at a batch's changes first
 * (so the batch that trips it is held too), then each sink's changes are sent now or kept.
 */
import type { SinkGate } from '../core/sinks/gate.ts';
import type { MembershipChange } from '../core/store/store.ts';
import type { ControlStore } from './control-store.ts';
import type { Guard } from './guard.ts';

export function createControlGate(control: ControlStore, guard: Guard, onKept: () => void): SinkGate {
  return {
    async admit(routed, all) {
      await guard(all);
      const now = new Map<string, readonly MembershipChange[]>();
      let kept = false;
      for (const [sink, changes] of routed) {
        if (changes.length === 0) continue;
        const sending = await control.admit(sink, changes);
        if (sending.length < changes.length) kept = true;
        now.set(sink, sending);
      }
      if (kept) onKept();
      return now;
    },
  };
}
