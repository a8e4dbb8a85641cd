/** @module Lua: every cohort's summary (name, member count, last update) in one round trip. */
import { readOnlyScript } from '../../runtime/redis-script.ts';

/**
 * Lists every cohort in byte order of its id, with its member count (ZCARD: O(1) per cohort).
 *
 * KEYS[1] cohorts index zset.
 * ARGV[1] cohort hash key prefix, ARGV[2] members zset key prefix (each completed with a cohort id).
 * Result: flat list, per cohort: cohort id, name, updated_at (decimal text), members (integer).
 */
export const listCohortsScript = readOnlyScript(
  'store-list-cohorts',
  1,
  `local result = {}
for _, cohortId in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local cohort = redis.call('HMGET', ARGV[1] .. cohortId, 'name', 'updated_at')
  result[#result + 1] = cohortId
  result[#result + 1] = cohort[1]
  result[#result + 1] = cohort[2]
  result[#result + 1] = redis.call('ZCARD', ARGV[2] .. cohortId)
end
return result
`,
);
