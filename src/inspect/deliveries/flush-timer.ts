/**
 * @module When a buffering DeliveryLog writes: `intervalMs` after the first item since its last
 * write, so a busy receiver pays one transaction (or one Redis call) per interval, not per request.
 */

/** Default interval: the page's live tail polls once a second, so 100 ms of delay goes unseen. */
export const defaultFlushIntervalMs = 100;

export interface FlushTimer {
  /** Arms the timer unless it is armed already. */
  schedule(): void;
  /** Disarms it (the caller is writing now). */
  cancel(): void;
}

export function createFlushTimer(flush: () => void, intervalMs: number): FlushTimer {
  let timer: NodeJS.Timeout | undefined;
  return {
    schedule() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        flush();
      }, intervalMs);
      // A pending write must not keep a finished process alive; close() writes what is left.
      timer.unref();
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
