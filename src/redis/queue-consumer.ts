/**
 * @module The Redis queue's consuming side: a consumer in the stream's group that reads its own
 * pending entries first, claims what a dead consumer left (XAUTOCLAIM), keeps what it holds claimed
 * while a long apply runs, lets gone consumers leave the group, and acknowledges (and deletes) an
 * entry once the handler resolved.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { type HandOverRules, handOverUntilDone } from '../core/queue/hand-over.ts';
import type { QueueConsumer } from '../runtime/durable-queue.ts';
import { runScript } from '../runtime/redis-script.ts';
import { connectBlockingRedis } from './connection.ts';
import type { QueueKeys } from './queue-keys.ts';
import { acknowledgeBatch, claimStaleBatch, keepBatchesClaimed } from './queue-scripts.ts';
import { pairs, readStreamEntry, type StreamEntry } from './stream-entry.ts';

export interface RedisConsumerOptions {
  /** The request-path connection: heartbeats use it, and the blocking connection copies its settings. */
  redis: Redis;
  keys: QueueKeys;
  /** How long another consumer's entry must sit unacknowledged before it is claimed. */
  claimIdleMs: number;
  redeliveryDelayMs: number;
  /** Entries read per XREADGROUP. */
  readCount: number;
  /** How long one XREADGROUP blocks; also the longest `close` waits for it. */
  blockMs: number;
  onConsumeError: ((error: Error) => void) | undefined;
  now: () => number;
}

/** Consumers with nothing pending and idle this long (a process that is gone) leave the group. */
const forgetConsumersIdleMs = 60 * 60 * 1000;

export function createRedisConsumer(options: RedisConsumerOptions): QueueConsumer {
  const { redis, keys, claimIdleMs, now } = options;
  // Every fifth of the idle time: five heartbeats must fail in a row before a live consumer's entry
  // looks dead, and a dead one's entries are claimed within a fifth of it once claimable.
  const beatMs = Math.max(50, claimIdleMs / 5);
  const consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  let rules: HandOverRules<StreamEntry> | undefined;
  let blocking: Redis | undefined;
  let reading = true;
  let closed = false;
  let running = false;
  let heartbeat: NodeJS.Timeout | undefined;
  /** Entries read or claimed by this consumer and not yet acknowledged. */
  const inHand = new Set<string>();
  /** Set at every (re)connection: look at this consumer's own pending entries before new ones. */
  let readOwnPendingFirst = true;

  /** Read from the group and not yet handed over, in order. */
  const queued: StreamEntry[] = [];
  let nextClaimAt = 0;

  /**
   * The loop, one entry at a time: first what a dead consumer left (checked between entries, so a
   * takeover does not wait for a whole read to be applied), then what this consumer read.
   */
  const readLoop = async (reader: Redis) => {
    let groupReady = false;
    let nextForgetAt = 0;
    let failing = false;
    while (!closed && (reading || queued.length > 0)) {
      try {
        if (!groupReady) groupReady = await createGroup(reader);
        let entry = reading && now() >= nextClaimAt ? await claimStale(reader) : undefined;
        if (entry === undefined) {
          if (reading && now() >= nextForgetAt) {
            nextForgetAt = now() + forgetConsumersIdleMs / 4;
            await forgetGoneConsumers(reader);
          }
          if (queued.length === 0 && reading) queued.push(...(await readEntries(reader)));
          entry = queued.shift();
        }
        failing = false;
        if (entry !== undefined) await deliverHeld(reader, entry);
      } catch (error) {
        if (closed) break;
        if (String((error as Error).message).startsWith('NOGROUP')) groupReady = false;
        if (!failing) options.onConsumeError?.(error as Error);
        failing = true;
        await sleep(500);
      }
    }
  };

  /** Entries this consumer still owns from before a reconnection first, else new ones. */
  const readEntries = async (reader: Redis) => {
    let entries: StreamEntry[] = [];
    if (readOwnPendingFirst) {
      entries = await readOwnPending(reader);
      if (entries.length === 0) readOwnPendingFirst = false;
    }
    if (entries.length === 0) entries = await readGroup(reader, '>');
    for (const entry of entries) inHand.add(entry.id);
    return entries;
  };

  const deliverHeld = async (reader: Redis, entry: StreamEntry) => {
    try {
      await deliver(reader, entry);
    } finally {
      inHand.delete(entry.id);
    }
  };

  let claimCursor = '0-0';
  /**
   * One entry a dead consumer left, if any. One at a time: a batch that crashes its worker is then
   * the only one whose delivery count climbs, so only it ends up a dead letter.
   */
  const claimStale = async (reader: Redis): Promise<StreamEntry | undefined> => {
    const reply = (await runScript(reader, claimStaleBatch, [
      keys.stream,
      keys.group,
      consumer,
      claimIdleMs,
      claimCursor,
      1,
    ])) as [string, ...[string, string[], number][]];
    const [next, ...claimed] = reply;
    claimCursor = next;
    if (claimed.length === 0 && claimCursor === '0-0') nextClaimAt = now() + beatMs;
    // This consumer's own entry, idle since Redis was away: it is in `queued` already.
    const fresh = claimed.filter(([id]) => !inHand.has(id));
    const [id, fields, deliveries] = fresh[0] ?? [];
    if (id === undefined || fields === undefined || deliveries === undefined) return undefined;
    inHand.add(id);
    return toEntry(id, fields, deliveries);
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

  /**
   * This consumer's own unacknowledged entries. An XREADGROUP that Redis answered just as the
   * connection died leaves its entries pending for this consumer, and the repeated command reads
   * only new ones (`>`): without this they would wait the claim idle time for XAUTOCLAIM.
   */
  const readOwnPending = async (reader: Redis) =>
    (await readGroup(reader, '0')).filter((entry) => !inHand.has(entry.id));

  /** XREADGROUP from `0` (this consumer's pending entries, delivered before) or `>` (new ones, blocking). */
  const readGroup = async (reader: Redis, from: '0' | '>'): Promise<StreamEntry[]> => {
    const { group, stream } = keys;
    const count = options.readCount;
    const reply = (await (from === '>'
      ? reader.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          count,
          'BLOCK',
          options.blockMs,
          'STREAMS',
          stream,
          from,
        )
      : reader.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, from))) as
      | [string, [string, string[] | null][]][]
      | null;
    const deliveries = from === '>' ? 1 : 2;
    // A pending entry deleted meanwhile comes back with null fields: nothing left to deliver.
    return (reply?.[0]?.[1] ?? [])
      .filter((pair): pair is [string, string[]] => pair[1] !== null)
      .map(([id, fields]) => toEntry(id, fields, deliveries));
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

  const toEntry = (id: string, fields: string[], deliveries: number) =>
    readStreamEntry(id, fields, deliveries);

  /** Hands one entry to the handler until it resolves, then acknowledges it. */
  const deliver = async (reader: Redis, entry: StreamEntry) => {
    // biome-ignore lint/style/noNonNullAssertion: the read loop only runs once start() set them.
    if (!(await handOverUntilDone(entry, rules!))) return;
    // On the blocking connection, which waits for Redis to come back rather than failing.
    await runScript(reader, acknowledgeBatch, [
      keys.stream,
      keys.waitingUsers,
      keys.group,
      entry.id,
      entry.users,
    ]);
  };

  /**
   * Before a redelivery after a failed handler: counts it in Redis too, so a crash from here on
   * still sees the right attempt number.
   */
  const countRedelivery = async (entry: StreamEntry, attempt: number) => {
    if (attempt === entry.handedOver + 1 || blocking === undefined) return;
    await blocking.xclaim(keys.stream, keys.group, consumer, 0, entry.id, 'RETRYCOUNT', attempt, 'JUSTID');
  };

  /** A batch given back unfinished (a stop while the store is away) was not a failed delivery. */
  const giveBackCount = async (entry: StreamEntry, attempt: number) => {
    if (blocking === undefined) return;
    await blocking.xclaim(
      keys.stream,
      keys.group,
      consumer,
      0,
      entry.id,
      'RETRYCOUNT',
      attempt - 1,
      'JUSTID',
    );
  };

  const keepClaimed = () => {
    if (inHand.size === 0) return;
    runScript(redis, keepBatchesClaimed, [keys.stream, keys.group, consumer, ...inHand]).catch(() => {
      // Redis away: the entries may be claimed by another worker; applying twice changes nothing.
    });
  };

  return {
    start(handler) {
      rules = {
        handler,
        redeliveryDelayMs: options.redeliveryDelayMs,
        isClosed: () => closed,
        beforeAttempt: countRedelivery,
        onHandBack: giveBackCount,
      };
      if (blocking) return;
      const reader = connectBlockingRedis(redis);
      blocking = reader;
      reader.on('ready', () => {
        readOwnPendingFirst = true;
        // Redis was away (or this is the start): every pending entry looks idle now, a live
        // consumer's too. Give them one idle time to heartbeat before claiming anything.
        nextClaimAt = now() + claimIdleMs;
      });
      redis.on('ready', keepClaimed);
      heartbeat = setInterval(keepClaimed, beatMs);
      heartbeat.unref();
      running = true;
      void readLoop(reader).finally(() => {
        running = false;
      });
    },
    stopReading() {
      reading = false;
    },
    hasStopped: () => !running,
    holdsNothing: () => inHand.size === 0,
    close() {
      reading = false;
      closed = true;
      clearInterval(heartbeat);
      redis.off('ready', keepClaimed);
      blocking?.disconnect();
    },
  };
}
