/** @module Work spread over the event loop's turns, so the requests waiting are answered in between. */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/**
 * Returns `next()`, which resolves in a later turn of the event loop than any earlier call's: one
 * call per turn. A setImmediate each would run them all in the same phase, with no I/O between.
 */
export function oneTurnEach(): () => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return () => {
    const turn = last.then(() => yieldToEventLoop());
    last = turn;
    return turn;
  };
}
