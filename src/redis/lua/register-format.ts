/**
 * @module How the Redis store spells one last-writer-wins register as a hash value, and the Lua
 * that reads it back. Only Lua reads or writes the format, so byte lengths are plain `#` lengths.
 *
 * Format: `<in_cohort 0|1>|<computed_time>|<message_id byte length>|<message_id><properties>`,
 * e.g. `1|1692206763|2|m1{"plan":"pro"}`. `<properties>` is the winning message's user_properties
 * as `JSON.stringify` text, or empty when it carried none (a JSON object is never empty text).
 * One string per register keeps a 1,000-user batch to one HMGET and one HSET, and the message id's
 * length prefix lets it hold any byte, `|` included.
 */

/**
 * Lua: `parseRegister(register)` -> inCohort ('0' | '1'), computedTime (decimal text), messageId,
 * propertiesJson ('' for none).
 */
export const PARSE_REGISTER_LUA = `
local function parseRegister(register)
  local inCohort, computedTime, length, start = string.match(register, '^([01])|([^|]+)|(%d+)|()')
  local messageEnd = start + tonumber(length) - 1
  return inCohort, computedTime, string.sub(register, start, messageEnd), string.sub(register, messageEnd + 1)
end
`;

/** Lua: `formatRegisterHead(inCohort, computedTime, messageId)`, to which the properties are appended. */
export const FORMAT_REGISTER_HEAD_LUA = `
local function formatRegisterHead(inCohort, computedTime, messageId)
  return (inCohort and '1' or '0') .. '|' .. computedTime .. '|' .. #messageId .. '|' .. messageId
end
`;

/** How many ids a script passes to one variadic command (HMGET, HSET, ZADD…): Lua's unpack is bounded. */
export const CHUNK_LUA = 'local CHUNK = 1000';

/**
 * Lua: `userCohortsMember(userId, cohortId)`, the member of the user-cohorts index zset for a user in
 * a cohort, and `userCohortsPrefix(userId)`, what all of one user's members start with. The length
 * prefix makes the user id's end unambiguous whatever bytes either id holds, so a user's members are
 * exactly those from `[prefix` to `(prefix .. '\255'` (valid UTF-8 never holds byte 0xFF), sorted by
 * cohort id.
 */
export const USER_COHORTS_MEMBER_LUA = `
local function userCohortsPrefix(userId)
  return #userId .. ':' .. userId
end
local function userCohortsMember(userId, cohortId)
  return #userId .. ':' .. userId .. cohortId
end
`;
