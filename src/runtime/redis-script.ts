/**
 * @module A Lua script, run through ioredis' own script support (`defineCommand`): by SHA, the whole
 * script sent the first time a connection runs it and again after Redis forgot it (NOSCRIPT).
 * Here rather than in src/redis/, so extras that keep state in Redis run scripts the same way.
 */
import type { Redis } from 'ioredis';

export interface RedisScript {
  /** What the script does: the command ioredis defines for it. */
  name: string;
  /** How many of the arguments are keys (KEYS), the rest being ARGV. */
  numberOfKeys: number;
  lua: string;
}

export function redisScript(definition: RedisScript): RedisScript {
  return definition;
}

/** A script under `#!lua flags=no-writes`: Redis refuses any write it attempts, and a replica may run it. */
export function readOnlyScript(name: string, numberOfKeys: number, lua: string): RedisScript {
  return redisScript({ name, numberOfKeys, lua: `#!lua flags=no-writes\n${lua}` });
}

type ScriptCommand = (keysAndArgs: readonly (string | number)[]) => Promise<unknown>;

/**
 * Runs `script` with its keys then its arguments, in one array (ioredis flattens it): a batch of
 * many users makes more arguments than a JavaScript call can take spread out.
 */
export function runScript(
  redis: Redis,
  script: RedisScript,
  keysAndArgs: readonly (string | number)[],
): Promise<unknown> {
  const { numberOfKeys, lua } = script;
  // Prefixed, so no script's name can shadow a command of the client's own.
  const command = `lua:${script.name}`;
  if (!(command in redis)) redis.defineCommand(command, { numberOfKeys, lua });
  return (redis as unknown as Record<string, ScriptCommand>)[command]?.(keysAndArgs) as Promise<unknown>;
}
