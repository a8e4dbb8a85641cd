/** @module How the Redis store declares a script that only reads. */
import { type RedisScript, redisScript } from '../script.ts';

/**
 * A script run with EVALSHA_RO under `#!lua flags=no-writes`: Redis refuses any write it attempts,
 * and a replica may answer it. The flag line and the read-only call come from here together.
 */
export function readOnlyScript(name: string, numberOfKeys: number, lua: string): RedisScript {
  return redisScript({ name, numberOfKeys, readOnly: true, lua: `#!lua flags=no-writes\n${lua}` });
}
