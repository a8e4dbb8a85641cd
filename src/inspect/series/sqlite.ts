/**
 * @module The SeriesStore in the shared SQLite file (QUEUE=sqlite), beside the delivery log: one row
 * per (minute, name), so the minutes survive a restart and every process on the file adds to the
 * same rows. Recording only buffers (summed in place); the buffer is written in one transaction
 * a second after its first value, never on the ack path.
 */
import type { Database } from 'better-sqlite3';
import { createFlushTimer } from '../deliveries/flush-timer.ts';
import { createSeriesBuffer } from './buffer.ts';
import { checkRetention, defaultRetentionMinutes, oldestKept } from './retention.ts';
import type { MinutePoint, SeriesStore } from './series.ts';

export interface SqliteSeriesStoreOptions {
  /** @default 10,080 (7 days) */
  retentionMinutes?: number;
  /** How long a recorded value may wait to be written with the next ones. @default 1000 */
  flushIntervalMs?: number;
  /** Told when a buffered write fails (the values are dropped: a chart is not worth a retry loop). */
  onError?: (error: Error) => void;
  /** @default Date.now */
  now?: () => number;
}

/** Distinct (minute, name) values that are written at once rather than held for the timer. */
const maxBuffered = 5000;

export function createSqliteSeriesTable(db: Database): void {
  // WITHOUT ROWID: the primary key is the row, so a value costs one B-tree entry, not two.
  db.exec(`CREATE TABLE IF NOT EXISTS inspect_series (
    minute INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (minute, name)
  ) WITHOUT ROWID`);
}

/** The caller owns `db` and closes it. */
export function createSqliteSeriesStore(db: Database, options: SqliteSeriesStoreOptions = {}): SeriesStore {
  const retention = checkRetention(options.retentionMinutes ?? defaultRetentionMinutes);
  const now = options.now ?? Date.now;
  createSqliteSeriesTable(db);
  const statements = {
    // Counters add, gauges keep the largest: what several processes wrote to one minute combines.
    addCounter: db.prepare(
      `INSERT INTO inspect_series (minute, name, value) VALUES (?, ?, ?)
       ON CONFLICT (minute, name) DO UPDATE SET value = value + excluded.value`,
    ),
    raiseGauge: db.prepare(
      `INSERT INTO inspect_series (minute, name, value) VALUES (?, ?, ?)
       ON CONFLICT (minute, name) DO UPDATE SET value = max(value, excluded.value)`,
    ),
    trim: db.prepare('DELETE FROM inspect_series WHERE minute < ?'),
    // The names as one JSON array: one prepared statement whatever their number.
    read: db.prepare<[number, number, string], { minute: number; name: string; value: number }>(
      `SELECT minute, name, value FROM inspect_series
       WHERE minute >= ? AND minute < ? AND name IN (SELECT j.value FROM json_each(?) AS j)
       ORDER BY minute`,
    ),
  };
  const buffer = createSeriesBuffer();
  const timer = createFlushTimer(() => flushNow(), options.flushIntervalMs ?? 1000);
  let closed = false;

  const write = db.transaction((values: ReturnType<typeof buffer.take>) => {
    const oldest = oldestKept(now(), retention);
    for (const { minute, name, kind, value } of values) {
      if (minute < oldest) continue;
      (kind === 'counter' ? statements.addCounter : statements.raiseGauge).run(minute, name, value);
    }
    // A range delete on the primary key's first column: cheap enough for every flush.
    statements.trim.run(oldest);
  });

  function flushNow() {
    timer.cancel();
    if (buffer.size === 0) return;
    try {
      write.immediate(buffer.take());
    } catch (error) {
      options.onError?.(error as Error);
    }
  }

  function buffered() {
    if (buffer.size >= maxBuffered) flushNow();
    else timer.schedule();
  }

  return {
    add(minute, counts) {
      if (closed) return;
      buffer.add(minute, counts);
      buffered();
    },
    raise(minute, gauges) {
      if (closed) return;
      buffer.raise(minute, gauges);
      buffered();
    },

    async read(names, from, to) {
      flushNow();
      if (names.length === 0) return [];
      const start = Math.max(from, oldestKept(now(), retention));
      const points: MinutePoint[] = [];
      let current: { minute: number; pairs: [string, number][] } | undefined;
      for (const row of statements.read.iterate(start, to, JSON.stringify(names))) {
        if (current?.minute !== row.minute) {
          if (current) points.push({ minute: current.minute, values: Object.fromEntries(current.pairs) });
          current = { minute: row.minute, pairs: [] };
        }
        current.pairs.push([row.name, row.value]);
      }
      if (current) points.push({ minute: current.minute, values: Object.fromEntries(current.pairs) });
      return points;
    },

    async flush() {
      flushNow();
    },
    async close() {
      flushNow();
      closed = true;
    },
  };
}
