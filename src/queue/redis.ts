/**
 * @module QUEUE=redis: a Redis Stream read by a consumer group. Accepting is one Lua script (dedupe
 * mark + XADD), answered only after Redis did it; workers anywhere read with XREADGROUP, acknowledge
 * and delete after the handler resolved, and claim what a dead worker left (XAUTOCLAIM). Survives a
 * killed process and scales out: any number of receivers and workers share one Redis.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { CohortBatch } from '../batch.ts';
import { UnavailableError } from '../errors.ts';
import type { AcceptOutcome, BatchHandler, Queue, QueueStats } from './queue.ts';
import { queueKeys } from './redis-keys.ts';
import {
  acceptBatch,
  acknowledgeBatch,
  claimStaleBatch,
  keepBatchesClaimed,
  requeueBatch,
  runScript,
} from './redis-scripts.ts';
import {
  type BodyDecoder,
  fromStoredBatch,
  type StoredFormat,
  toStoredBatch,
  type UndecodableHandler,
} from './stored-batch.ts';

export interface RedisQueueOptions {
  /** The request-path connection (`connectRedis`: no offline queue). The caller owns and closes it. */
  redis: Redis;
  /** KEY_PREFIX: every key lives under `<keyPrefix>:queue:`. */
  keyPrefix: string;
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Users waiting in the stream before `accept` answers queue_full. One batch is always let in when empty. */
  maxUsers: number;
  /** Reads back the raw bodies `accept` was given; without it the batch is kept as JSON. */
  decodeBody?: BodyDecoder;
  /** Where an entry goes that cannot be read back (a parser grown stricter since it was accepted). */
  onUndecodable: UndecodableHandler;
  /** How long another consumer's entry must sit unacknowledged before it is claimed. @default 30_000 */
  claimIdleMs?: number;
  /** Wait before delivering again a batch whose handler threw. @default 1000 */
  redeliveryDelayMs?: number;
  /** Entries read per XREADGROUP. @default 10 */
  readCount?: number;
  /** How long one XREADGROUP blocks; also the longest a shutdown waits for it. @default 1000 */
  blockMs?: number;
  /** Told when consuming starts failing (Redis unreachable, …); it retries by itself. */
  onConsumeError?: (error: Error) => void;
  now?: () => number;
}

/** Consumers with nothing pending and idle this long (a process that is gone) leave the group. */
const forgetConsumersIdleMs = 60 * 60 * 1000;

interface Entry {
  id: string;
  deliveries: number;
  messageId: string;
  users: number;
  format: StoredFormat;
  receivedAtMs: number;
  body: string;
}

export function createRedisQueue(options: RedisQueueOptions): Queue {
  const { redis } = options;
  const now = options.now ?? Date.now;
  const keys = queueKeys(options.keyPrefix);
  const claimIdleMs = options.claimIdleMs ?? 30_000;
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 1000;
  const readCount = options.readCount ?? 10;
  const blockMs = options.blockMs ?? 1000;
  const consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  let handler: BatchHandler | undefined;
  let blocking: Redis | undefined;
  let accepting = true;
  let fetching = true;
  let closed = false;
  let consuming: Promise<void> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  /** Entries read or claimed by this consumer and not yet acknowledged. */
  const inHand = new Set<string>();
  /** Set at every (re)connection: look at this consumer's own pending entries before new ones. */
  let readOwnPendingFirst = true;

  const enqueueArgs = (batch: CohortBatch, format: StoredFormat, receivedAtMs: number, body: string) => [
    batch.users.length,
    batch.messageId,
    format,
    receivedAtMs,
    body,
  ];

  /** The loop: claim what dead consumers left (oldest first, one at a time), else read new entries. */
  const consumeLoop = async (reader: Redis) => {
    let groupReady = false;
    let claimCursor = '0-0';
    let nextClaimAt = 0;
    let nextForgetAt = 0;
    let failing = false;
    while (!closed && fetching) {
      try {
        if (!groupReady) groupReady = await createGroup(reader);
        let entries: Entry[] = [];
        if (now() >= nextClaimAt) {
          // One at a time: a batch that crashes its worker is then the only one whose delivery
          // count climbs, so only it ends up a dead letter.
          const claimed = await claimStale(reader, claimCursor);
          claimCursor = claimed.cursor;
          entries = claimed.entries;
          if (entries.length === 0 && claimCursor === '0-0')
            nextClaimAt = now() + Math.max(100, claimIdleMs / 2);
        }
        if (now() >= nextForgetAt) {
          nextForgetAt = now() + forgetConsumersIdleMs / 4;
          await forgetGoneConsumers(reader);
        }
        if (entries.length === 0 && readOwnPendingFirst) {
          entries = await readOwnPending(reader);
          if (entries.length === 0) readOwnPendingFirst = false;
        }
        if (entries.length === 0) entries = await readNew(reader);
        failing = false;
        for (const entry of entries) inHand.add(entry.id);
        for (const entry of entries) {
          if (closed) break;
          try {
            await deliver(reader, entry);
          } finally {
            inHand.delete(entry.id);
          }
        }
      } catch (error) {
        if (closed) break;
        if (String((error as Error).message).startsWith('NOGROUP')) groupReady = false;
        if (!failing) options.onConsumeError?.(error as Error);
        failing = true;
        await sleep(500);
      }
    }
  };

  const createGroup = async (reader: Redis) => {
    try {
      // From the stream's start: entries a receiver added before any worker existed are delivered too.
      await reader.xgroup('CREATE', keys.stream, keys.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
    }
    return true;
  };

  const claimStale = async (reader: Redis, cursor: string) => {
    const reply = (await runScript(reader, claimStaleBatch, [
      keys.stream,
      keys.group,
      consumer,
      claimIdleMs,
      cursor,
      1,
    ])) as [string, ...[string, string[], number][]];
    const [next, ...claimed] = reply;
    return {
      cursor: next,
      entries: claimed.map(([id, fields, deliveries]) => toEntry(id, fields, deliveries)),
    };
  };

  /**
   * This consumer's own unacknowledged entries. An XREADGROUP that Redis answered just as the
   * connection died leaves its entries pending for this consumer, and the repeated command reads
   * only new ones (`>`): without this they would wait the claim idle time for XAUTOCLAIM.
   */
  const readOwnPending = async (reader: Redis): Promise<Entry[]> => {
    const reply = (await reader.xreadgroup(
      'GROUP',
      keys.group,
      consumer,
      'COUNT',
      readCount,
      'STREAMS',
      keys.stream,
      '0',
    )) as [string, [string, string[] | null][]][] | null;
    // A deleted entry comes back with null fields: nothing left to deliver.
    return (reply?.[0]?.[1] ?? [])
      .filter((pair): pair is [string, string[]] => pair[1] !== null && !inHand.has(pair[0]))
      .map(([id, fields]) => toEntry(id, fields, 2));
  };

  const readNew = async (reader: Redis): Promise<Entry[]> => {
    const reply = (await reader.xreadgroup(
      'GROUP',
      keys.group,
      consumer,
      'COUNT',
      readCount,
      'BLOCK',
      blockMs,
      'STREAMS',
      keys.stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => toEntry(id, fields, 1));
  };

  const forgetGoneConsumers = async (reader: Redis) => {
    const consumers = (await reader.xinfo('CONSUMERS', keys.stream, keys.group)) as (string | number)[][];
    for (const fields of consumers) {
      const info = Object.fromEntries(pairs(fields));
      if (info.name !== consumer && Number(info.pending) === 0 && Number(info.idle) > forgetConsumersIdleMs) {
        await reader.xgroup('DELCONSUMER', keys.stream, keys.group, String(info.name));
      }
    }
  };

  /** Hands one entry to the handler until it resolves (redelivering with attempt + 1), then acknowledges it. */
  const deliver = async (reader: Redis, entry: Entry) => {
    let batch: CohortBatch | undefined;
    try {
      batch = fromStoredBatch(entry, options.decodeBody);
    } catch (error) {
      await options.onUndecodable({
        messageId: entry.messageId,
        body: entry.body,
        reason: (error as Error).message,
      });
    }
    for (let attempt = entry.deliveries; batch !== undefined; attempt += 1) {
      try {
        // biome-ignore lint/style/noNonNullAssertion: the loop only runs once consume() set it.
        await handler!(batch, { attempt, acceptedAt: Number(entry.id.split('-')[0]) });
        break;
      } catch {
        // The worker already retried and dead-lettered; this is "even that failed": deliver again,
        // and count it in Redis too, so a crash from here on still sees the right attempt number.
        if (closed) return;
        await sleep(redeliveryDelayMs);
        await reader.xclaim(
          keys.stream,
          keys.group,
          consumer,
          0,
          entry.id,
          'RETRYCOUNT',
          attempt + 1,
          'JUSTID',
        );
      }
    }
    // On the blocking connection, which waits for Redis to come back rather than failing.
    await runScript(reader, acknowledgeBatch, [
      keys.stream,
      keys.waitingUsers,
      keys.group,
      entry.id,
      entry.users,
    ]);
  };

  const keepClaimed = () => {
    if (inHand.size === 0) return;
    runScript(redis, keepBatchesClaimed, [keys.stream, keys.group, consumer, ...inHand]).catch(() => {
      // Redis away: the entries may be claimed by another worker; applying twice changes nothing.
    });
  };

  const waitUntil = async (done: () => Promise<boolean> | boolean, timeoutMs: number) => {
    const deadline = now() + timeoutMs;
    for (;;) {
      if (await done()) return true;
      if (now() >= deadline) return false;
      await sleep(20);
    }
  };
  let loopRunning = false;

  return {
    async accept(batch, source): Promise<AcceptOutcome> {
      if (!accepting) throw new UnavailableError('shutting_down');
      const stored = toStoredBatch(batch, source, options.decodeBody, now());
      let result: unknown;
      try {
        result = await runScript(redis, acceptBatch, [
          keys.seen(batch.messageId),
          keys.stream,
          keys.waitingUsers,
          options.dedupeTtlSeconds,
          options.maxUsers,
          ...enqueueArgs(batch, stored.format, stored.receivedAtMs, stored.body),
        ]);
      } catch (error) {
        // Down, reconnecting, timed out or out of memory: nothing was promised, the sender retries.
        throw new UnavailableError('backend_unavailable', 5, { cause: error });
      }
      if (result === -1) throw new UnavailableError('queue_full');
      return result === 1 ? 'accepted' : 'duplicate';
    },
    async requeue(batch) {
      const args = enqueueArgs(batch, 'batch', now(), JSON.stringify(batch));
      await runScript(redis, requeueBatch, [keys.stream, keys.waitingUsers, ...args]);
    },
    consume(batchHandler) {
      handler = batchHandler;
      if (consuming) return;
      blocking = redis.duplicate({
        enableOfflineQueue: true,
        autoResendUnfulfilledCommands: true,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
      });
      blocking.on('error', () => {});
      blocking.on('ready', () => {
        readOwnPendingFirst = true;
      });
      heartbeat = setInterval(keepClaimed, Math.max(50, claimIdleMs / 3));
      heartbeat.unref();
      loopRunning = true;
      consuming = consumeLoop(blocking).finally(() => {
        loopRunning = false;
      });
    },
    stopAccepting() {
      accepting = false;
    },
    async drain(timeoutMs) {
      if (!accepting) {
        // Shutting down: finish what this process holds; the stream's backlog is safe in Redis.
        fetching = false;
        return waitUntil(() => !loopRunning, timeoutMs);
      }
      return waitUntil(async () => inHand.size === 0 && (await redis.xlen(keys.stream)) === 0, timeoutMs);
    },
    async stats(): Promise<QueueStats> {
      const replies = await redis
        .pipeline()
        .xlen(keys.stream)
        .get(keys.waitingUsers)
        .xrange(keys.stream, '-', '+', 'COUNT', 1)
        .exec();
      const [length, users, oldest] = (replies ?? []).map(([error, value]) => {
        if (error) throw error;
        return value;
      }) as [number, string | null, [string, string[]][]];
      const oldestId = oldest[0]?.[0];
      return {
        batches: length,
        users: Math.max(0, Number(users ?? 0)),
        oldestAgeSeconds:
          oldestId === undefined ? 0 : Math.max(0, (now() - Number(oldestId.split('-')[0])) / 1000),
      };
    },
    async check() {
      if (!accepting) throw new Error('shutting down');
      if (redis.status !== 'ready') throw new Error(`Redis unreachable (${redis.status})`);
      await redis.ping();
    },
    async close() {
      accepting = false;
      fetching = false;
      closed = true;
      clearInterval(heartbeat);
      // Ends a blocking read at once; a handler still running is not waited for (drain does that).
      blocking?.disconnect();
    },
  };
}

function toEntry(id: string, fields: string[], deliveries: number): Entry {
  const field = Object.fromEntries(pairs(fields));
  return {
    id,
    deliveries,
    messageId: String(field.m ?? ''),
    users: Number(field.u ?? 0),
    format: field.f === 'raw' ? 'raw' : 'batch',
    receivedAtMs: Number(field.t ?? 0),
    body: String(field.b ?? ''),
  };
}

/** [k1, v1, k2, v2, …] → [[k1, v1], [k2, v2], …], the shape Redis gives hashes and stream fields. */
function pairs<T>(flat: T[]): [T, T][] {
  const result: [T, T][] = [];
  for (let index = 0; index + 1 < flat.length; index += 2)
    result.push([flat[index] as T, flat[index + 1] as T]);
  return result;
}
