/** @module Read-your-writes: waits, bounded, until an accepted message has left the queue. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageProgress } from './queue.ts';

/** The first pause between two lookups; doubled up to `maxPauseMs`, so a quick apply is seen quickly. */
const firstPauseMs = 5;
const maxPauseMs = 100;

/**
 * Asks `progress` until the message is no longer `waiting` or `timeoutMs` passed; resolves with the
 * last answer (`waiting` when the time ran out).
 */
export async function awaitProgress(
  progress: (messageId: string) => Promise<MessageProgress>,
  messageId: string,
  timeoutMs: number,
): Promise<MessageProgress> {
  const deadline = performance.now() + timeoutMs;
  for (let pause = firstPauseMs; ; pause = Math.min(pause * 2, maxPauseMs)) {
    const state = await progress(messageId);
    const left = deadline - performance.now();
    if (state !== 'waiting' || left <= 0) return state;
    await sleep(Math.min(pause, left));
  }
}
