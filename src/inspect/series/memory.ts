/**
 * @module The in-process SeriesStore (QUEUE=memory or a memory home): a map of minutes, pruned to
 * the retention and to `maxValues`. Writing is a few map updates, so nothing is buffered; the
 * series go with the process, as its queue does.
 */
import { checkRetention, defaultRetentionMinutes, oldestKept } from './retention.ts';
import { type Minute, type MinutePoint, minuteOf, type SeriesStore } from './series.ts';

export interface MemorySeriesStoreOptions {
  /** @default 10,080 (7 days) */
  retentionMinutes?: number;
  /**
   * Most values kept over all minutes: thousands of cohorts would otherwise keep millions of
   * members values for a week. The oldest minutes go first. @default 500,000
   */
  maxValues?: number;
  /** @default Date.now */
  now?: () => number;
}

export function createMemorySeriesStore(options: MemorySeriesStoreOptions = {}): SeriesStore {
  const retention = checkRetention(options.retentionMinutes ?? defaultRetentionMinutes);
  const maxValues = options.maxValues ?? 500_000;
  const now = options.now ?? Date.now;
  const minutes = new Map<Minute, Map<string, number>>();
  let values = 0;
  let closed = false;

  function drop(minute: Minute) {
    values -= minutes.get(minute)?.size ?? 0;
    minutes.delete(minute);
  }

  /** The minute's values, or undefined when it is older than what is kept. */
  function minuteFor(minute: Minute): Map<string, number> | undefined {
    const oldest = oldestKept(now(), retention);
    if (minute < oldest) return undefined;
    let entry = minutes.get(minute);
    if (entry === undefined) {
      // Once per new minute: cheap next to the 10,080 it may hold.
      for (const kept of minutes.keys()) if (kept < oldest) drop(kept);
      entry = new Map();
      minutes.set(minute, entry);
    }
    return entry;
  }

  function trimToBound() {
    if (values <= maxValues) return;
    for (const minute of [...minutes.keys()].sort((a, b) => a - b)) {
      drop(minute);
      if (values <= maxValues) return;
    }
  }

  function write(minute: Minute, given: Record<string, number | undefined>, gauge: boolean) {
    if (closed) return;
    const entry = minuteFor(minuteOf(minute));
    if (entry === undefined) return;
    for (const [name, value] of Object.entries(given)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const current = entry.get(name);
      if (current === undefined) values += 1;
      entry.set(name, current === undefined ? value : gauge ? Math.max(current, value) : current + value);
    }
    trimToBound();
  }

  return {
    add: (minute, counts) => write(minute, counts, false),
    raise: (minute, gauges) => write(minute, gauges, true),

    async read(names, from, to) {
      const start = Math.max(from, oldestKept(now(), retention));
      const points: MinutePoint[] = [];
      for (const [minute, entry] of minutes) {
        if (minute < start || minute >= to) continue;
        const picked: [string, number][] = [];
        for (const name of names) {
          const value = entry.get(name);
          if (value !== undefined) picked.push([name, value]);
        }
        // fromEntries makes own properties, so even a name like `__proto__` reads back as written.
        if (picked.length > 0) points.push({ minute, values: Object.fromEntries(picked) });
      }
      return points.sort((a, b) => a.minute - b.minute);
    },

    async flush() {},
    async close() {
      closed = true;
    },
  };
}
