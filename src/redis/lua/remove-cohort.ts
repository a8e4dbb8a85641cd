/** @module Lua: forget one cohort, a bounded step at a time. */
import { redisScript } from '../../runtime/redis-script.ts';
import { CHUNK_LUA, USER_COHORTS_MEMBER_LUA } from './register-format.ts';

/**
 * One step of removing a cohort. Each call takes up to CHUNK members out of the members zset, the
 * user-cohorts index and the registers hash, so a cohort of millions never blocks Redis in one
 * script; every step leaves the three consistent, so an apply running in between sees a smaller
 * cohort, never a broken one. Once no member is left, the registers (now only tombstones) are
 * UNLINKed, freed off the main thread, and the summary and index entry go.
 *
 * KEYS[1] registers hash of the cohort, KEYS[2] members zset of the cohort, KEYS[3] cohort hash,
 *   KEYS[4] cohorts index zset, KEYS[5] user-cohorts index zset.
 * ARGV[1] cohort id.
 * Result: { done (0: call again | 1), how many keys or members this step removed }.
 */
export const removeCohortScript = redisScript({
  name: 'store-remove-cohort',
  numberOfKeys: 5,
  lua: `#!lua
${CHUNK_LUA}
${USER_COHORTS_MEMBER_LUA}
local registersKey, membersKey, cohortKey, cohortsKey, userCohortsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cohortId = ARGV[1]
local members = redis.call('ZRANGE', membersKey, 0, CHUNK - 1)
if #members > 0 then
  local entries = {}
  for index, userId in ipairs(members) do entries[index] = userCohortsMember(userId, cohortId) end
  redis.call('ZREM', userCohortsKey, unpack(entries))
  redis.call('ZREM', membersKey, unpack(members))
  redis.call('HDEL', registersKey, unpack(members))
  return { 0, #members }
end
local removed = redis.call('UNLINK', registersKey, cohortKey) + redis.call('ZREM', cohortsKey, cohortId)
return { 1, removed }
`,
});
