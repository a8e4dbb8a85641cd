/** @module Lua: the cohorts one user is in now, with each cohort's current name and the user's since. */
import { readOnlyScript } from '../../runtime/redis-script.ts';
import { PARSE_REGISTER_LUA, USER_COHORTS_MEMBER_LUA } from './register-format.ts';

/**
 * Reads the user's range of the user-cohorts index (cohort ids in byte order), then each cohort's
 * name and the user's register there, in one round trip and one consistent view.
 *
 * KEYS[1] user-cohorts index zset.
 * ARGV[1] user id, ARGV[2] cohort hash key prefix, ARGV[3] registers hash key prefix (each completed
 *   with a cohort id).
 * Result: flat list, per cohort in cohort id order: cohort id, name, since (decimal text).
 */
export const userCohortsScript = readOnlyScript(
  'store-user-cohorts',
  1,
  `${PARSE_REGISTER_LUA}
${USER_COHORTS_MEMBER_LUA}
local userId = ARGV[1]
local prefix = userCohortsPrefix(userId)
local entries = redis.call('ZRANGE', KEYS[1], '[' .. prefix, '(' .. prefix .. '\\255', 'BYLEX')
local result = {}
for _, entry in ipairs(entries) do
  local cohortId = string.sub(entry, #prefix + 1)
  local _, since = parseRegister(redis.call('HGET', ARGV[3] .. cohortId, userId))
  result[#result + 1] = cohortId
  result[#result + 1] = redis.call('HGET', ARGV[2] .. cohortId, 'name')
  result[#result + 1] = since
end
return result
`,
);
