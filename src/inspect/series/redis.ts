/**
 * @module The SeriesStore in Redis (QUEUE=redis): a hash per minute under
 * `<KEY_PREFIX>:inspect:series:<minute>` (field: the series name), expiring once the minute leaves
 * the retention, so every receiver and worker adds to the same minutes. Recording only buffers
 * (summed in place); a second after the first value, the buffer goes in one script call nobody on
 * the ack path awaits.
 */
import type { Redis } from 'ioredis';
import { readOnlyScript, redisScript, runScript } from '../../runtime/redis-script.ts';
import { createFlushTimer } from '../deliveries/flush-timer.ts';
import { createSeriesBuffer } from './buffer.ts';
import { checkRetention, defaultRetentionMinutes, oldestKept } from './retention.ts';
import { type Minute, type MinutePoint, minuteMs, minuteOf, type SeriesStore } from './series.ts';

export interface RedisSeriesStoreOptions {
  keyPrefix: string;
  /** @default 10,080 (7 days) */
  retentionMinutes?: number;
  /** How long a recorded value may wait to be written with the next ones. @default 1000 */
  flushIntervalMs?: number;
  /** Told when a write fails (its values are dropped: a chart is not worth a retry loop). */
  onError?: (error: Error) => void;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The number of keys varies with each call: left undefined, ioredis takes it as the first argument
 * (EVALSHA's own numkeys), so the minutes stay declared KEYS without one definition per count.
 */
const keysGivenPerCall = undefined as unknown as number;

/** The key of one minute's hash. */
export const seriesKey = (keyPrefix: string, minute: Minute) => `${keyPrefix}:inspect:series:${minute}`;

/**
 * KEYS: the minutes' hashes. ARGV: first, for each key, the epoch second it expires at; then
 * values of 4 slots: key index (1-based), `c` (counter) or `g` (gauge), field, value.
 * Counters HINCRBYFLOAT; a gauge is set only when larger than what the field holds.
 */
const writeSeries = redisScript({
  name: 'inspect-write-series',
  numberOfKeys: keysGivenPerCall,
  lua: `
local keys = #KEYS
for i = keys + 1, #ARGV, 4 do
  local key, kind, field, value = KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'c' then
    redis.call('HINCRBYFLOAT', key, field, value)
  else
    local current = tonumber(redis.call('HGET', key, field))
    if current == nil or tonumber(value) > current then redis.call('HSET', key, field, value) end
  end
end
for i = 1, keys do redis.call('EXPIREAT', KEYS[i], ARGV[i]) end
return keys
`,
});

/**
 * KEYS: the minutes' hashes; ARGV: the names. Returns index (1-based), values (HMGET's reply) for
 * each key that holds any of them: a week of empty minutes costs nothing on the wire.
 */
const readSeries = readOnlyScript(
  'inspect-read-series',
  keysGivenPerCall,
  `
local out = {}
for i = 1, #KEYS do
  local values = redis.call('HMGET', KEYS[i], unpack(ARGV))
  for _, value in ipairs(values) do
    if value then
      out[#out + 1] = i
      out[#out + 1] = values
      break
    end
  end
end
return out
`,
);

/** Minutes read per script call: a day, so a week's chart never holds Redis for long. */
const minutesPerRead = 1440;
/** Distinct (minute, name) values sent at once rather than held for the timer. */
const maxBuffered = 5000;

/** The caller owns `redis` (a request-path connection) and closes it. */
export function createRedisSeriesStore(redis: Redis, options: RedisSeriesStoreOptions): SeriesStore {
  const retention = checkRetention(options.retentionMinutes ?? defaultRetentionMinutes);
  const now = options.now ?? Date.now;
  const buffer = createSeriesBuffer();
  const timer = createFlushTimer(() => flushNow(), options.flushIntervalMs ?? 1000);
  const writing = new Set<Promise<void>>();
  let closed = false;

  function flushNow() {
    timer.cancel();
    if (buffer.size === 0) return;
    const oldest = oldestKept(now(), retention);
    const keyIndex = new Map<Minute, number>();
    const keys: string[] = [];
    const expireAt: number[] = [];
    const values: (string | number)[] = [];
    for (const { minute, name, kind, value } of buffer.take()) {
      if (minute < oldest) continue;
      let index = keyIndex.get(minute);
      if (index === undefined) {
        keys.push(seriesKey(options.keyPrefix, minute));
        expireAt.push((minute + retention * minuteMs) / 1000);
        index = keys.length;
        keyIndex.set(minute, index);
      }
      values.push(index, kind === 'counter' ? 'c' : 'g', name, String(value));
    }
    if (keys.length === 0) return;
    const write = runScript(redis, writeSeries, [keys.length, ...keys, ...expireAt, ...values]).then(
      () => undefined,
      (error: Error) => options.onError?.(error),
    );
    writing.add(write);
    void write.finally(() => writing.delete(write));
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
      await Promise.all(writing);
      if (names.length === 0) return [];
      const first = Math.ceil(Math.max(from, oldestKept(now(), retention)) / minuteMs) * minuteMs;
      // Minutes are probed one by one, so an open end stops an hour ahead (another process's clock).
      const end = Math.min(to, minuteOf(now()) + 60 * minuteMs);
      const points: MinutePoint[] = [];
      for (let chunk = first; chunk < end; chunk += minutesPerRead * minuteMs) {
        const minutes: Minute[] = [];
        for (let minute = chunk; minute < end && minutes.length < minutesPerRead; minute += minuteMs) {
          minutes.push(minute);
        }
        const keys = minutes.map((minute) => seriesKey(options.keyPrefix, minute));
        const reply = (await runScript(redis, readSeries, [keys.length, ...keys, ...names])) as (
          | number
          | (string | null)[]
        )[];
        for (let at = 0; at + 1 < reply.length; at += 2) {
          const minute = minutes[(reply[at] as number) - 1] as Minute;
          const pairs: [string, number][] = [];
          (reply[at + 1] as (string | null)[]).forEach((value, index) => {
            if (value !== null) pairs.push([names[index] as string, Number(value)]);
          });
          points.push({ minute, values: Object.fromEntries(pairs) });
        }
      }
      return points;
    },

    async flush() {
      flushNow();
      await Promise.all(writing);
    },
    async close() {
      flushNow();
      closed = true;
      await Promise.all(writing);
    },
  };
}
