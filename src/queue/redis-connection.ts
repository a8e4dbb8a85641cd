/**
 * @module The two kinds of Redis connection the queue needs (STYLE.md habit 11): one on the request
 * path that fails fast while Redis is away, and one for blocking reads that waits for it.
 */
import { Redis } from 'ioredis';

/** Reconnect forever, quickly at first: a receiver recovers by itself when Redis returns. */
const retryStrategy = (times: number) => Math.min(50 * times, 1000);

/**
 * A connection for the ack path and everything that must not hang: with no offline queue, a command
 * sent while Redis is down fails at once (the webhook answers 503 within milliseconds), and one that
 * was in flight when the connection dropped fails after `commandTimeoutMs` rather than being resent
 * later behind the sender's back.
 */
export function connectRedis(
  url: string,
  options: { commandTimeoutMs?: number; onError?: (error: Error) => void } = {},
): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    retryStrategy,
  });
  // Without a listener ioredis prints each failed reconnection; callers see failures on commands.
  redis.on('error', options.onError ?? (() => {}));
  return redis;
}

/**
 * A connection for XREADGROUP BLOCK: commands wait (offline queue, no retry limit) until Redis is
 * back, since a blocking read cannot share a connection with the request path.
 */
export function connectBlockingRedis(url: string, onError: (error: Error) => void = () => {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy });
  redis.on('error', onError);
  return redis;
}

/** Resolves true once `redis` is ready, false if `timeoutMs` passes first (it keeps trying after). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.once('ready', onReady);
  });
}
