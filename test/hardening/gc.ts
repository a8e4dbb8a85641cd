/** @module Forced garbage collection for memory assertions, without restarting the test worker with flags. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// `--expose-gc` set at run time takes effect for contexts created afterwards, so a fresh context
// hands us `gc` without passing flags to vitest's worker processes.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major' }) => void;

/** Heap in use after full collections, letting pending finalizers and timers run in between. */
export async function settledHeapUsed(): Promise<number> {
  for (let round = 0; round < 4; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}
