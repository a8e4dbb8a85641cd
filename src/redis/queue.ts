/**
 * @module QUEUE=redis: a Redis Stream read by a consumer group. Accepting is one Lua script (dedupe
 * mark + XADD), answered only after Redis did it; workers anywhere read with XREADGROUP, acknowledge
 * and delete after the handler resolved, heartbeat what they hold, and claim what a dead worker
 * left (XAUTOCLAIM). Survives a killed process and scales out: any number of receivers and workers
 * share one Redis. The producing side is queue-producer.ts, the consuming side queue-consumer.ts.
 */
import type { Redis } from 'ioredis';
import type { Queue } from '../core/queue/queue.ts';
import { composeQueue } from '../runtime/durable-queue.ts';
import { createRedisConsumer } from './queue-consumer.ts';
import { queueKeys } from './queue-keys.ts';
import { createRedisProducer } from './queue-producer.ts';
import { progressOf } from './queue-progress.ts';

export interface RedisQueueOptions {
  /** The request-path connection (`connectRedis`: no offline queue). The caller owns and closes it. */
  redis: Redis;
  /** KEY_PREFIX: every key lives under `<keyPrefix>:queue:`. */
  keyPrefix: string;
  /** How long a message_id is remembered. */
  dedupeTtlSeconds: number;
  /** Users waiting in the stream before `accept` answers queue_full. One batch is always let in when empty. */
  maxUsers: number;
  /**
   * How long an entry must go without its consumer's heartbeat before another consumer claims it.
   * A live consumer heartbeats what it holds five times per idle time, so only a dead one's entries
   * are claimed, however long their apply takes. @default 5_000
   */
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

/** REDIS_CLAIM_IDLE_MS when unset: a dead worker's batches are taken over about 5 s after it died. */
export const defaultClaimIdleMs = 5_000;

export function createRedisQueue(options: RedisQueueOptions): Queue & Required<Pick<Queue, 'requeue'>> {
  const { redis } = options;
  const now = options.now ?? Date.now;
  const keys = queueKeys(options.keyPrefix);
  const producer = createRedisProducer({
    redis,
    keys,
    dedupeTtlSeconds: options.dedupeTtlSeconds,
    maxUsers: options.maxUsers,
    now,
  });
  const consumer = createRedisConsumer({
    redis,
    keys,
    claimIdleMs: options.claimIdleMs ?? defaultClaimIdleMs,
    redeliveryDelayMs: options.redeliveryDelayMs ?? 1000,
    readCount: options.readCount ?? 10,
    blockMs: options.blockMs ?? 1000,
    onConsumeError: options.onConsumeError,
    now,
  });
  return { ...composeQueue(producer, consumer), progress: (messageId) => progressOf(redis, keys, messageId) };
}
