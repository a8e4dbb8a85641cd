/**
 * @module A Lua script and the one way to run it: by SHA (EVALSHA, or EVALSHA_RO for a read-only
 * script), sent whole (EVAL / EVAL_RO) only when Redis does not know it yet — on first use and
 * after a restart emptied its script cache.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface RedisScript {
  /** What the script does, for readers and errors. */
  name: string;
  /** How many of the arguments are keys (KEYS), the rest being ARGV. */
  numberOfKeys: number;
  /**
   * Runs with EVALSHA_RO: Redis refuses any write it attempts, and a replica may run it. Such a
   * script should also start with `#!lua flags=no-writes`, which EVALSHA then honours too.
   */
  readOnly: boolean;
  lua: string;
  /** SHA-1 of `lua`, the name Redis caches it under. */
  sha: string;
}

export function redisScript(definition: {
  name: string;
  numberOfKeys: number;
  lua: string;
  readOnly?: boolean;
}): RedisScript {
  const { name, numberOfKeys, lua, readOnly = false } = definition;
  return { name, numberOfKeys, lua, readOnly, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs `script` with its keys then its arguments, in one array: a batch of many users makes more
 * arguments than a JavaScript call can take spread out.
 */
export async function runScript(
  redis: Redis,
  script: RedisScript,
  keysAndArgs: readonly (string | number)[],
): Promise<unknown> {
  const { numberOfKeys, lua, sha, readOnly } = script;
  try {
    return await redis.call(readOnly ? 'evalsha_ro' : 'evalsha', [sha, numberOfKeys, ...keysAndArgs]);
  } catch (error) {
    if (!(error as Error).message?.startsWith('NOSCRIPT')) throw error;
    return redis.call(readOnly ? 'eval_ro' : 'eval', [lua, numberOfKeys, ...keysAndArgs]);
  }
}
