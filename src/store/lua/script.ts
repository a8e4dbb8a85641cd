/** @module The shape of a Lua script the Redis store registers with ioredis `defineCommand`. */

/** A Lua script, sent once and then called by SHA (EVALSHA; ioredis reloads it on NOSCRIPT). */
export interface RedisScript {
  /** The command name ioredis defines for it; unique per client. */
  name: string;
  /** How many of the arguments are keys (KEYS), the rest being ARGV. */
  numberOfKeys: number;
  /** Runs with EVALSHA_RO, so it may run on a replica and can never write. */
  readOnly: boolean;
  /** Starts with a `#!lua` line (Redis 7 script flags): read-only scripts say `flags=no-writes`. */
  lua: string;
}
