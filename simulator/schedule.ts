/**
 * @module The delivery schedule: in what order the planned messages are sent, and which are sent
 * twice. Retries after timeouts reorder and duplicate further, at run time (see deliver.ts).
 */
import type { PlannedMessage } from './plan.ts';
import { createRandom } from './random.ts';

/** One sending of one message; `copy` 0 is the original, 1 a deliberate duplicate sent later. */
export interface Delivery {
  messageIndex: number;
  copy: number;
}

export interface ScheduleOptions {
  /** How far a message may be overtaken by later ones; 0 keeps the planned order. */
  reorderWindow: number;
  /** Chance that a message is sent a second time, later. */
  duplicateRate: number;
  concurrency: number;
  /** true: each step is its own segment, delivered after the previous one (per-user-flags). */
  segmentBySteps: boolean;
  seed: number;
}

/**
 * Returns the deliveries in sending order, split into segments that are delivered one after the
 * other (a single segment unless `segmentBySteps`). Each message gets a sort key of its position
 * plus up to `reorderWindow` of jitter, so it can fall behind at most that many later messages;
 * a duplicate is keyed after its original, up to a window (or a few rounds of requests) later.
 */
export function scheduleDeliveries(
  messages: readonly PlannedMessage[],
  options: ScheduleOptions,
): Delivery[][] {
  const random = createRandom(options.seed, 1);
  const segments = new Map<number, { key: number; delivery: Delivery }[]>();
  const duplicateLag = Math.max(options.reorderWindow, 2 * options.concurrency);
  messages.forEach((message, position) => {
    const segmentKey = options.segmentBySteps ? message.step : 0;
    const segment = segments.get(segmentKey) ?? [];
    segments.set(segmentKey, segment);
    const key = position + random.next() * options.reorderWindow;
    segment.push({ key, delivery: { messageIndex: message.index, copy: 0 } });
    if (random.chance(options.duplicateRate)) {
      segment.push({
        key: key + 1 + random.next() * duplicateLag,
        delivery: { messageIndex: message.index, copy: 1 },
      });
    }
  });
  return [...segments.keys()]
    .sort((a, b) => a - b)
    .map((segmentKey) =>
      (segments.get(segmentKey) ?? []).sort((a, b) => a.key - b.key).map(({ delivery }) => delivery),
    );
}
