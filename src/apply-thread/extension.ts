/**
 * @module APPLY_THREAD: the store's work on a thread of its own, so a batch's transaction never holds
 * the event loop that answers webhooks (docs/design.md#the-apply-thread).
 */
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { defineExtension } from '../runtime/extension.ts';
import { onOff } from '../runtime/settings.ts';
import { createThreadedApplier } from './threaded-applier.ts';

const settings = z.object({ APPLY_THREAD: onOff('on') });

export const applyThread = defineExtension({
  name: 'apply-thread',
  settings,
  use({ APPLY_THREAD }) {
    return {
      attach(receiver) {
        // A store only this thread can reach (memory, an in-memory SQLite file) stays here.
        if (!APPLY_THREAD || receiver.store === undefined || !receiver.storeRecipe.threadable) return;
        const { logger, registry } = receiver;
        const threaded = createThreadedApplier(receiver.storeRecipe, {
          onThreadStopped: (reason) =>
            logger.error({ reason }, 'the apply thread stopped; starting a new one'),
        });
        receiver.applier = threaded.apply;
        receiver.warmUp = () => threaded.warmUp();
        receiver.onClose(() => threaded.close());
        countThreadStops(registry, () => threaded.threadStops);
      },
    };
  },
});

/** The series of how often the thread stopped unasked, read from `stops` at each scrape. */
export function countThreadStops(registry: Registry, stops: () => number): void {
  new Counter({
    name: 'cohort_receiver_apply_thread_stops_total',
    help: 'Times the apply thread stopped unasked (a crash, an out-of-memory kill); the next apply starts a new one',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stops());
    },
  });
}
