/** @module Lua: one page of a cohort's members, with each member's since and properties. */
import { readOnlyScript } from '../../runtime/redis-script.ts';
import { CHUNK_LUA, PARSE_REGISTER_LUA } from './register-format.ts';

/**
 * Reads up to `count` members after a cursor, in byte order, and their registers, in one round
 * trip and one consistent view.
 *
 * KEYS[1] members zset of the cohort, KEYS[2] registers hash of the cohort.
 * ARGV[1] where to start, as a ZRANGE BYLEX bound: '-' for the first page, '(' .. user id to start
 *   after that id; ARGV[2] count.
 * Result: flat list, per member: user id, since (computed time, decimal text), properties JSON
 *   ('' for none), message id.
 */
export const listMembersScript = readOnlyScript(
  'store-list-members',
  2,
  `${CHUNK_LUA}
${PARSE_REGISTER_LUA}
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])
local result = {}
for first = 1, #ids, CHUNK do
  local registers = redis.call('HMGET', KEYS[2], unpack(ids, first, math.min(first + CHUNK - 1, #ids)))
  for offset, register in ipairs(registers) do
    local _, since, messageId, properties = parseRegister(register)
    result[#result + 1] = ids[first + offset - 1]
    result[#result + 1] = since
    result[#result + 1] = properties
    result[#result + 1] = messageId
  end
end
return result
`,
);
