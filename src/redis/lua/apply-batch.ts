/** @module Lua: apply one batch to a cohort's last-writer-wins registers, atomically. */

import type { WriteOutcome } from '../../core/store/register.ts';
import { redisScript } from '../../runtime/redis-script.ts';
import {
  CHUNK_LUA,
  FORMAT_REGISTER_HEAD_LUA,
  PARSE_REGISTER_LUA,
  USER_COHORTS_MEMBER_LUA,
} from './register-format.ts';

/**
 * What the script did to each listed user, one character each so a batch's answer stays one short
 * string: a {@link WriteOutcome} (`register.ts`), or `repeated`. The script names them as the
 * upper-case Lua constants {@link OUTCOMES_LUA} declares.
 */
export const APPLY_OUTCOME = {
  entered: 'E',
  left: 'L',
  updated: 'U',
  /** Written, but membership and properties stay: the register only moved to this message. */
  unchanged: 'W',
  /** Not written: the stored register is this message or a newer one. */
  stale: 'S',
  /** A listing after the user's first in the same batch: the same message again, a no-op. */
  repeated: '.',
} as const satisfies Record<WriteOutcome | 'repeated', string>;

/** The {@link WriteOutcome} an outcome character stands for; undefined for `repeated`. */
export function writeOutcomeOf(code: string): WriteOutcome | undefined {
  return WRITE_OUTCOME_BY_CODE.get(code);
}

const WRITE_OUTCOME_BY_CODE = new Map<string, WriteOutcome>([
  [APPLY_OUTCOME.entered, 'entered'],
  [APPLY_OUTCOME.left, 'left'],
  [APPLY_OUTCOME.updated, 'updated'],
  [APPLY_OUTCOME.unchanged, 'unchanged'],
  [APPLY_OUTCOME.stale, 'stale'],
]);

/** Lua: the outcome characters by name, from {@link APPLY_OUTCOME}. */
const OUTCOMES_LUA = `local ENTERED, LEFT, UPDATED, UNCHANGED, STALE, REPEATED = ${[
  APPLY_OUTCOME.entered,
  APPLY_OUTCOME.left,
  APPLY_OUTCOME.updated,
  APPLY_OUTCOME.unchanged,
  APPLY_OUTCOME.stale,
  APPLY_OUTCOME.repeated,
]
  .map((code) => `'${code}'`)
  .join(', ')}`;

/**
 * Applies one batch as a last-writer-wins register per user, tombstones included, and says what it
 * did to each user. One script, so a batch is all or nothing and no other batch interleaves.
 *
 * Every write is one bulk command per key (HSET of the registers, ZADD and ZREM of the members and
 * of the user-cohorts index): inside Redis a command per user costs more than an element of a bulk
 * command. The `#!lua` line (Redis 7) makes Redis refuse the whole script up front when it
 * is out of memory, rather than fail at its first write with part of the batch applied.
 *
 * KEYS[1] registers hash of the cohort, KEYS[2] members zset of the cohort, KEYS[3] cohort hash,
 *   KEYS[4] cohorts index zset, KEYS[5] user-cohorts index zset.
 * ARGV[1] cohort id, ARGV[2] cohort name, ARGV[3] in_cohort ('1' | '0'), ARGV[4] computed time
 *   (decimal text), ARGV[5] message id, ARGV[6] restate ('1' | '0'), ARGV[7] n = number of users,
 *   then ARGV[8 .. 7+n] the user ids and ARGV[8+n .. 7+2n] their properties JSON ('' for none).
 * Result: { outcomes, stale... }. outcomes is a string of n characters, one per listed user in
 *   batch order (see APPLY_OUTCOME). With restate, stale... is, per STALE in order, the register that
 *   held: in_cohort ('1' | '0'), computed time (decimal text), message id, properties JSON ('' none).
 */
export const applyBatchScript = redisScript({
  name: 'store-apply-batch',
  numberOfKeys: 5,
  lua: `#!lua
${OUTCOMES_LUA}
${CHUNK_LUA}
${PARSE_REGISTER_LUA}
${FORMAT_REGISTER_HEAD_LUA}
${USER_COHORTS_MEMBER_LUA}
local registersKey, membersKey, cohortKey, cohortsKey, userCohortsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cohortId, cohortName = ARGV[1], ARGV[2]
local inCohort = ARGV[3] == '1'
local timeText, messageId = ARGV[4], ARGV[5]
local time = tonumber(timeText)
local restate = ARGV[6] == '1'
local userCount = tonumber(ARGV[7])
local firstUser = 8
local firstProperties = firstUser + userCount

-- Byte (= code point) order, as ZRANGE BYLEX and the other stores use. Lua's own string < calls
-- strcoll, which follows the server's locale.
local function compareBytes(a, b)
  if a == b then return 0 end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return #a < #b and -1 or 1
end

-- Is this batch's version (computed time, then message id) newer than the stored one?
local function isNewer(storedTime, storedMessageId)
  if time ~= storedTime then return time > storedTime end
  return compareBytes(messageId, storedMessageId) > 0
end

-- What writing this batch over a stored register does: write it?, outcome, the parsed stored register.
local function resolveWrite(stored, properties)
  if not stored then return true, inCohort and ENTERED or UNCHANGED end
  local storedIn, storedTime, storedMessageId, storedProperties = parseRegister(stored)
  if not isNewer(tonumber(storedTime), storedMessageId) then
    return false, STALE, { storedIn, storedTime, storedMessageId, storedProperties }
  end
  if storedIn == '0' then return true, inCohort and ENTERED or UNCHANGED end
  if not inCohort then return true, LEFT end
  return true, storedProperties == properties and UNCHANGED or UPDATED
end

local function callInChunks(command, key, arguments)
  for i = 1, #arguments, 2 * CHUNK do
    redis.call(command, key, unpack(arguments, i, math.min(i + 2 * CHUNK - 1, #arguments)))
  end
end

local head = formatRegisterHead(inCohort, timeText, messageId)
local outcomes, seen, registerWrites = {}, {}, {}
-- ZADD / ZREM arguments: members (score, id pairs) and the user-cohorts index (pairs, members).
local entered, left, indexEntered, indexLeft = {}, {}, {}, {}
local result = { '' }
for chunkStart = 0, userCount - 1, CHUNK do
  local chunkEnd = math.min(chunkStart + CHUNK, userCount) - 1
  local stored = redis.call('HMGET', registersKey, unpack(ARGV, firstUser + chunkStart, firstUser + chunkEnd))
  for index = chunkStart, chunkEnd do
    local userId = ARGV[firstUser + index]
    local outcome = REPEATED
    if not seen[userId] then
      seen[userId] = true
      local properties = ARGV[firstProperties + index]
      local write, held
      write, outcome, held = resolveWrite(stored[index - chunkStart + 1], properties)
      if held and restate then
        for _, field in ipairs(held) do result[#result + 1] = field end
      end
      if write then
        registerWrites[#registerWrites + 1] = userId
        registerWrites[#registerWrites + 1] = head .. properties
        if outcome == ENTERED then
          entered[#entered + 1] = 0
          entered[#entered + 1] = userId
          indexEntered[#indexEntered + 1] = 0
          indexEntered[#indexEntered + 1] = userCohortsMember(userId, cohortId)
        elseif outcome == LEFT then
          left[#left + 1] = userId
          indexLeft[#indexLeft + 1] = userCohortsMember(userId, cohortId)
        end
      end
    end
    outcomes[index + 1] = outcome
  end
end
callInChunks('HSET', registersKey, registerWrites)
callInChunks('ZADD', membersKey, entered)
callInChunks('ZREM', membersKey, left)
callInChunks('ZADD', userCohortsKey, indexEntered)
callInChunks('ZREM', userCohortsKey, indexLeft)

local cohort = redis.call('HMGET', cohortKey, 'name_time', 'name_message', 'updated_at')
if not cohort[1] or isNewer(tonumber(cohort[1]), cohort[2]) then
  redis.call('HSET', cohortKey, 'name', cohortName, 'name_time', timeText, 'name_message', messageId)
end
if not cohort[3] or time > tonumber(cohort[3]) then
  redis.call('HSET', cohortKey, 'updated_at', timeText)
end
redis.call('ZADD', cohortsKey, 0, cohortId)
result[1] = table.concat(outcomes)
return result
`,
});
