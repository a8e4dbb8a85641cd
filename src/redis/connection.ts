/**
 * @module The two kinds of Redis connection: one on the request path that fails fast while Redis is
 * away, and one for blocking reads that waits for it. A blocking read (XREADGROUP BLOCK) holds its
 * connection, so it cannot share one with the request path.
 */
import { Redis } from 'ioredis';

export interface RedisConnectionOptions {
  /** CLIENT SETNAME, to tell the connections apart in CLIENT LIST. */
  connectionName?: string;
  /** How long opening a connection may take. @default 10_000 */
  connectTimeoutMs?: number;
  /**
   * Told of each failed connection attempt (reconnecting follows by itself). Without a listener
   * ioredis prints each one; callers see failures on their commands anyway.
   */
  onError?: (error: Error) => void;
}

export interface RequestConnectionOptions extends RedisConnectionOptions {
  /** How long a command may wait for its reply before it fails. @default 1000 */
  commandTimeoutMs?: number;
}

/** Reconnect forever, quickly at first: a process recovers by itself when Redis returns. */
const retryStrategy = (times: number) => Math.min(50 * times, 1000);

/**
 * A connection for the ack path and everything that must not hang: with no offline queue, a command
 * sent while Redis is down fails at once (the webhook answers 503 within milliseconds), and one that
 * was in flight when the connection dropped fails after `commandTimeoutMs` rather than being resent
 * later behind the sender's back.
 */
export function connectRedis(url: string, options: RequestConnectionOptions = {}): Redis {
  return withErrorListener(
    new Redis(url, {
      ...commonOptions(options),
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      maxRetriesPerRequest: 1,
    }),
    options,
  );
}

/**
 * A connection for blocking reads: commands wait (offline queue, no retry limit, no command
 * timeout) until Redis is back. Given a connection rather than a URL, it opens a second one to the
 * same server with the same credentials, database and TLS.
 */
export function connectBlockingRedis(to: string | Redis, options: RedisConnectionOptions = {}): Redis {
  const blocking = {
    ...commonOptions(options),
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
  };
  return withErrorListener(
    typeof to === 'string' ? new Redis(to, blocking) : to.duplicate(blocking),
    options,
  );
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

/** Replies and client errors of a Redis that is away: restarting, loading its data, or not there. */
const awayMessages = [
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /^LOADING /,
  /^MASTERDOWN /,
  /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b/,
  /connect (ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH)/,
];

/**
 * True when a command's failure says Redis is away (the connection is down, or the server is
 * loading or restarting), not that it refused the command. A command that timed out on a live
 * connection is the command's own failure: a script that slow would fail the same way again.
 */
export function isRedisAway(error: unknown, redis: Redis): boolean {
  if (redis.status !== 'ready') return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return awayMessages.some((message) => message.test(error.message));
}

function commonOptions(options: RedisConnectionOptions) {
  return {
    retryStrategy,
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeout: options.connectTimeoutMs }),
  };
}

function withErrorListener(redis: Redis, options: RedisConnectionOptions): Redis {
  redis.on('error', options.onError ?? (() => {}));
  return redis;
}
