/**
 * @module The Log.DeliveryLog in Redis (QUEUE=redis): a capped stream of receipts and a hash per
 * message_id for what comes later (duplicates, apply and sink results), under `<KEY_PREFIX>:inspect:`,
 * so one page shows every receiver's deliveries and every worker's results. Recording only buffers;
 * every 100 ms (`flush-timer.ts`) the items go in one script call that nobody awaits.
 */
import type { Redis } from 'ioredis';
import type * as Log from './delivery-log.ts';
import { defaultMaxDeliveries } from './delivery-log.ts';
import { createFlushTimer, defaultFlushIntervalMs } from './flush-timer.ts';
import { deliveryLogKeys } from './redis-keys.ts';
import { recordDeliveries, slotsPerItem } from './redis-script.ts';
import { cohortActivityOf, matchesQuery } from './rows.ts';

export interface RedisDeliveryLogOptions {
  keyPrefix: string;
  /** @default 10_000 */
  maxDeliveries?: number;
  /** How long a recorded item may wait to be written with the next ones. @default 100 */
  flushIntervalMs?: number;
  /** Told when a write fails (its items are dropped: the log is not worth a retry loop). */
  onError?: (error: Error) => void;
}

/** A hash whose accepting receipt never came (evicted, or recorded by nobody) goes after a day. */
const ORPHAN_SECONDS = 24 * 60 * 60;
/** A burst this large is sent at once rather than held for the timer. */
const maxBuffered = 1000;
/** Entries read per XRANGE while filtering: the stream holds at most the bound. */
const READ_CHUNK = 500;

type StreamEntry = [id: string, fields: string[]];

/** The caller owns `redis` (a request-path connection) and closes it. */
export function createRedisDeliveryLog(redis: Redis, options: RedisDeliveryLogOptions): Log.DeliveryLog {
  const keys = deliveryLogKeys(options.keyPrefix);
  const max = options.maxDeliveries ?? defaultMaxDeliveries;
  let buffer: string[] = [];
  const timer = createFlushTimer(() => flushNow(), options.flushIntervalMs ?? defaultFlushIntervalMs);
  const writing = new Set<Promise<void>>();
  let closed = false;

  function flushNow() {
    timer.cancel();
    if (buffer.length === 0) return;
    const items = buffer;
    buffer = [];
    const args = [keys.deliveries, keys.messagePrefix, max, ORPHAN_SECONDS, ...items];
    const write = recordDeliveries(redis, args).then(
      () => undefined,
      (error: Error) => options.onError?.(error),
    );
    writing.add(write);
    void write.finally(() => writing.delete(write));
  }

  function enqueue(...item: string[]) {
    if (closed) return;
    buffer.push(...item);
    if (buffer.length >= maxBuffered * slotsPerItem) flushNow();
    else timer.schedule();
  }

  /** Attaches each accepting row's duplicates and results, in one pipeline. */
  async function withMessages(deliveries: Log.Delivery[]): Promise<Log.Delivery[]> {
    const accepting = deliveries.filter((delivery) => delivery.outcome === 'accepted' && delivery.messageId);
    if (accepting.length === 0) return deliveries;
    const pipeline = redis.pipeline();
    for (const delivery of accepting) pipeline.hgetall(keys.message(delivery.messageId as string));
    const replies = (await pipeline.exec()) ?? [];
    accepting.forEach((delivery, index) => {
      const [error, hash] = replies[index] ?? [];
      if (error) throw error;
      attachMessage(delivery, hash as Record<string, string>);
    });
    return deliveries;
  }

  /** Walks the stream newest first from `below` (exclusive), `READ_CHUNK` entries at a time. */
  async function* newestFirst(below?: string): AsyncGenerator<Log.Delivery> {
    let end = below === undefined ? '+' : `(${below}`;
    for (;;) {
      const entries = (await redis.xrevrange(
        keys.deliveries,
        end,
        '-',
        'COUNT',
        READ_CHUNK,
      )) as StreamEntry[];
      for (const entry of entries) yield toDelivery(entry);
      if (entries.length < READ_CHUNK) return;
      end = `(${(entries.at(-1) as StreamEntry)[0]}`;
    }
  }

  return {
    recordReceipt(receipt: Log.DeliveryReceipt) {
      enqueue('r', receipt.messageId ?? '', receipt.outcome, JSON.stringify(receipt));
    },
    recordApplied(result: Log.ApplyResult) {
      const { sinks, ...applied } = result;
      enqueue('a', result.messageId, JSON.stringify(applied), '');
      for (const sink of sinks) enqueue('s', result.messageId, sink.name, JSON.stringify(sink));
    },
    recordSinkResult(messageId: string, result: Log.SinkResult) {
      enqueue('s', messageId, result.name, JSON.stringify(result));
    },

    async list(query: Log.DeliveryQuery) {
      const found: Log.Delivery[] = [];
      for await (const delivery of newestFirst(cursorOf(query.before))) {
        if (!matchesQuery(delivery, query)) continue;
        if (found.length === query.limit) {
          return { deliveries: await withMessages(found), nextCursor: (found.at(-1) as Log.Delivery).id };
        }
        found.push(delivery);
      }
      return { deliveries: await withMessages(found), nextCursor: null };
    },

    async get(messageId: string) {
      const entryId = await redis.hget(keys.message(messageId), 'entry');
      const [accepting] = entryId
        ? ((await redis.xrange(keys.deliveries, entryId, entryId)) as StreamEntry[])
        : [];
      if (accepting) return (await withMessages([toDelivery(accepting)]))[0];
      for await (const delivery of newestFirst()) if (delivery.messageId === messageId) return delivery;
      return undefined;
    },

    async since(afterId: string | undefined, limit: number) {
      const after = cursorOf(afterId);
      const entries =
        after === undefined
          ? ((await redis.xrevrange(keys.deliveries, '+', '-', 'COUNT', limit)) as StreamEntry[]).reverse()
          : ((await redis.xrange(keys.deliveries, `(${after}`, '+', 'COUNT', limit)) as StreamEntry[]);
      return withMessages(entries.map(toDelivery));
    },

    async cohortActivity() {
      const accepted: Log.Delivery[] = [];
      for await (const delivery of newestFirst())
        if (delivery.outcome === 'accepted') accepted.push(delivery);
      return cohortActivityOf(await withMessages(accepted));
    },

    async retention() {
      const [kept, oldest] = await Promise.all([
        redis.xlen(keys.deliveries),
        redis.xrange(keys.deliveries, '-', '+', 'COUNT', 1) as Promise<StreamEntry[]>,
      ]);
      return { kept, max, oldestAt: oldest[0] ? toDelivery(oldest[0]).receivedAt : null };
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

function toDelivery([id, fields]: StreamEntry): Log.Delivery {
  let json = '{}';
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === 'r') json = fields[index + 1] as string;
  }
  return { ...(JSON.parse(json) as Log.DeliveryReceipt), id, duplicates: 0 };
}

/** The message hash's fields onto its accepting row; a hash another row claimed is not this one's. */
function attachMessage(delivery: Log.Delivery, hash: Record<string, string>) {
  if (hash.entry !== delivery.id) return;
  delivery.duplicates = Number(hash.duplicates ?? 0);
  if (hash.applied === undefined) return;
  const sinks = Object.entries(hash)
    .filter(([field]) => field.startsWith('sink:'))
    .map(([, json]) => JSON.parse(json) as Log.SinkResult);
  delivery.applied = { ...(JSON.parse(hash.applied) as Omit<Log.ApplyResult, 'sinks'>), sinks };
}

/** A stream id this log issued; anything else (a hand-edited URL) reads as no cursor. */
function cursorOf(id: string | undefined): string | undefined {
  return id !== undefined && /^\d{1,20}-\d{1,20}$/.test(id) ? id : undefined;
}
