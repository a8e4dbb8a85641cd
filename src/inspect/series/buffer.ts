/**
 * @module What a buffering SeriesStore holds between writes: one value per (minute, name), counters
 * summed and gauges raised in place, so a flush writes one row per series and minute however busy
 * the receiver was.
 */
import { type CounterName, type GaugeName, type Minute, minuteOf } from './series.ts';

export type SeriesKind = 'counter' | 'gauge';

export interface BufferedValue {
  minute: Minute;
  name: string;
  kind: SeriesKind;
  value: number;
}

export interface SeriesBuffer {
  add(minute: Minute, counts: Partial<Record<CounterName, number>>): void;
  raise(minute: Minute, gauges: Partial<Record<GaugeName, number>>): void;
  /** How many (minute, name) values are held. */
  readonly size: number;
  /** Empties the buffer and returns what it held. */
  take(): BufferedValue[];
}

export function createSeriesBuffer(): SeriesBuffer {
  let held = new Map<string, BufferedValue>();

  function put(given: Minute, kind: SeriesKind, values: Record<string, number | undefined>) {
    const minute = minuteOf(given);
    for (const [name, value] of Object.entries(values)) {
      // A NaN or an Infinity would poison the stored sum for the whole minute.
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const key = `${minute} ${name}`;
      const entry = held.get(key);
      if (entry === undefined) held.set(key, { minute, name, kind, value });
      else entry.value = kind === 'counter' ? entry.value + value : Math.max(entry.value, value);
    }
  }

  return {
    add: (minute, counts) => put(minute, 'counter', counts),
    raise: (minute, gauges) => put(minute, 'gauge', gauges),
    get size() {
      return held.size;
    },
    take() {
      const values = [...held.values()];
      held = new Map();
      return values;
    },
  };
}
