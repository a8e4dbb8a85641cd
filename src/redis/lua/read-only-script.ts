/** @module How the Redis store declares a script that only reads. */
import { type RedisScript, redisScript } from '../script.ts';

/** A script under `#!lua flags=no-writes`: Redis refuses any write it attempts, and a replica may run it. */
export function readOnlyScript(name: string, numberOfKeys: number, lua: string): RedisScript {
  return redisScript({ name, numberOfKeys, lua: `#!lua flags=no-writes\n${lua}` });
}
