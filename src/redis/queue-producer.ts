/**
 * @module The Redis queue's producing side: accepting (dedupe mark + XADD in one script, answered
 * only after Redis did it), requeueing a dead letter, and what the stream holds.
 */
import type { Redis } from 'ioredis';
import { UnavailableError } from '../core/errors.ts';
import type { QueuedBatch } from '../core/queue/queue.ts';
import type { QueueProducer } from '../runtime/durable-queue.ts';
import { runScript } from '../runtime/redis-script.ts';
import type { QueueKeys } from './queue-keys.ts';
import { acceptBatch, requeueBatch } from './queue-scripts.ts';
import { entryTime } from './stream-entry.ts';

export interface RedisProducerOptions {
  /** The request-path connection (no offline queue: fails fast while Redis is away). */
  redis: Redis;
  keys: QueueKeys;
  dedupeTtlSeconds: number;
  maxUsers: number;
  now: () => number;
}

export function createRedisProducer(options: RedisProducerOptions): QueueProducer {
  const { redis, keys, now } = options;

  /** The accept and requeue scripts' last five ARGV: what the stream entry holds. */
  const entryArgs = (batch: QueuedBatch) => [
    batch.users,
    batch.messageId,
    'raw',
    batch.receivedAt,
    batch.body,
  ];

  return {
    async accept(batch) {
      let result: unknown;
      try {
        result = await runScript(redis, acceptBatch, [
          keys.seen(batch.messageId),
          keys.stream,
          keys.waitingUsers,
          options.dedupeTtlSeconds,
          options.maxUsers,
          ...entryArgs(batch),
        ]);
      } catch (error) {
        // Down, reconnecting, timed out or out of memory: nothing was promised, the sender retries.
        throw new UnavailableError('backend_unavailable', 5, { cause: error });
      }
      if (result === -1) throw new UnavailableError('queue_full');
      return result === 1 ? 'accepted' : 'duplicate';
    },

    async requeue(batch) {
      await runScript(redis, requeueBatch, [keys.stream, keys.waitingUsers, ...entryArgs(batch)]);
    },

    async isEmpty() {
      return (await redis.xlen(keys.stream)) === 0;
    },

    async stats() {
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
      const waitingUsers = Math.max(0, Number(users ?? 0));
      return {
        batches: length,
        users: waitingUsers,
        fullness: waitingUsers / options.maxUsers,
        oldestAgeSeconds: oldestId === undefined ? 0 : Math.max(0, (now() - entryTime(oldestId)) / 1000),
      };
    },

    async check() {
      if (redis.status !== 'ready') throw new Error(`Redis unreachable (${redis.status})`);
      await redis.ping();
    },

    close() {
      // The connection is the caller's.
    },
  };
}
