/**
 * @module The Lua scripts of the Redis ControlStore (redis-control.ts), each with a header listing its
 * KEYS, ARGV and result; run with `runScript` (src/runtime/redis-script.ts). Kept as TS strings so `tsc`
 * ships them in dist/ as is.
 *
 * A parked change is a member `<seq>:<change JSON>` of a sorted set scored by its seq: the seq makes
 * the member unique, the score keeps the order, and moving a row between sets keeps both. Held rows
 * live in one sorted set per (sink, cohort), `<held prefix><cohort byte length>:<cohort><sink>`: the
 * length prefix makes the split unambiguous whatever bytes the ids hold. Some keys are built inside
 * the scripts from prefixes given in ARGV (as the store's scripts do): like the queue, sink control
 * expects one Redis primary, not a cluster.
 */
import { readOnlyScript, redisScript } from '../runtime/redis-script.ts';

/** Lua: how many arguments one `redis.call` is given at most (unpack has a limit). */
const CHUNK_LUA = 'local CHUNK = 1000';

/** Lua: `heldKey(prefix, cohortId, sink)`, the held rows of one sink for one cohort (see the module). */
const HELD_KEY_LUA = `
local function heldKey(prefix, cohortId, sink)
  return prefix .. #cohortId .. ':' .. cohortId .. sink
end
`;

/**
 * sink-control-admit: decides, in one step with pause, hold, release and backfill, which of one
 * sink's changes go now. A change of a held cohort is parked as held; while the sink is paused,
 * backfilling or has waiting (not held) changes, the others are parked as waiting; the rest go now.
 * Every parked change takes the next seq.
 * KEYS[1] paused HASH, KEYS[2] backfills HASH, KEYS[3] holds HASH, KEYS[4] seq counter,
 * KEYS[5] the sink's waiting ZSET, KEYS[6] held counts HASH (sink -> held rows)
 * ARGV[1] sink, ARGV[2] held ZSET prefix, ARGV[3] held-sinks SET prefix (completed with a cohort id),
 * then per change: its cohort id, its JSON
 * Result: the 0-based indexes of the changes to send now, in order
 */
export const admitScript = redisScript({
  name: 'sink-control-admit',
  numberOfKeys: 6,
  lua: `${HELD_KEY_LUA}
local sink = ARGV[1]
local wait = redis.call('HEXISTS', KEYS[1], sink) == 1
  or redis.call('HEXISTS', KEYS[2], sink) == 1
  or redis.call('ZCARD', KEYS[5]) > 0
local held = {}
local registered = {}
local heldRows = 0
local sendNow = {}
for i = 4, #ARGV - 1, 2 do
  local cohortId = ARGV[i]
  if held[cohortId] == nil then held[cohortId] = redis.call('HEXISTS', KEYS[3], cohortId) == 1 end
  if held[cohortId] or wait then
    local seq = string.format('%d', redis.call('INCR', KEYS[4]))
    local member = seq .. ':' .. ARGV[i + 1]
    if held[cohortId] then
      redis.call('ZADD', heldKey(ARGV[2], cohortId, sink), seq, member)
      if not registered[cohortId] then
        redis.call('SADD', ARGV[3] .. cohortId, sink)
        registered[cohortId] = true
      end
      heldRows = heldRows + 1
    else
      redis.call('ZADD', KEYS[5], seq, member)
    end
  else
    sendNow[#sendNow + 1] = (i - 4) / 2
  end
end
if heldRows > 0 then redis.call('HINCRBY', KEYS[6], sink, heldRows) end
return sendNow
`,
});

/**
 * sink-control-end-hold: ends a cohort's hold; with ARGV[4] = '1' (release) each sink's held rows of
 * the cohort join its waiting rows, in seq order among them (they keep their scores), with '0'
 * (discard) they are dropped.
 * KEYS[1] holds HASH, KEYS[2] the cohort's held-sinks SET, KEYS[3] held counts HASH
 * ARGV[1] cohort id, ARGV[2] held ZSET prefix, ARGV[3] waiting ZSET prefix (completed with a sink),
 * ARGV[4] '1' release, '0' discard
 * Result: how many rows were released or discarded
 */
export const endHoldScript = redisScript({
  name: 'sink-control-end-hold',
  numberOfKeys: 3,
  lua: `${HELD_KEY_LUA}
${CHUNK_LUA}
local cohortId = ARGV[1]
redis.call('HDEL', KEYS[1], cohortId)
local count = 0
for _, sink in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local rows = heldKey(ARGV[2], cohortId, sink)
  local n = redis.call('ZCARD', rows)
  if n > 0 then
    if ARGV[4] == '1' then
      -- ZADD what is released rather than ZUNIONSTORE: O(released), however many already wait.
      local waiting = ARGV[3] .. sink
      local scored = redis.call('ZRANGE', rows, 0, -1, 'WITHSCORES')
      for start = 1, #scored, 2 * CHUNK do
        local args = {}
        for j = start, math.min(start + 2 * CHUNK - 1, #scored), 2 do
          args[#args + 1] = scored[j + 1]
          args[#args + 1] = scored[j]
        end
        redis.call('ZADD', waiting, unpack(args))
      end
    end
    redis.call('DEL', rows)
    if redis.call('HINCRBY', KEYS[3], sink, -n) <= 0 then redis.call('HDEL', KEYS[3], sink) end
    count = count + n
  end
end
redis.call('DEL', KEYS[2])
return count
`,
});

/**
 * sink-control-remove: forgets waiting rows by seq.
 * KEYS[1] the sink's waiting ZSET
 * ARGV the seqs
 * Result: how many were removed
 */
export const removeScript = redisScript({
  name: 'sink-control-remove',
  numberOfKeys: 1,
  lua: `
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
end
return removed
`,
});

/**
 * sink-control-state: the paused, holds and backfills hashes, read together.
 * KEYS[1] paused HASH, KEYS[2] holds HASH, KEYS[3] backfills HASH
 * Result: { paused fields and values, holds…, backfills… } (each flat, as HGETALL)
 */
export const stateScript = readOnlyScript(
  'sink-control-state',
  3,
  `return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`,
);

/**
 * sink-control-backlogs: each sink's waiting and held row counts, read together.
 * KEYS[1] held counts HASH
 * ARGV[1] waiting ZSET prefix, then the sinks
 * Result: flat, per sink: waiting, held
 */
export const backlogsScript = readOnlyScript(
  'sink-control-backlogs',
  1,
  `local result = {}
for i = 2, #ARGV do
  result[#result + 1] = redis.call('ZCARD', ARGV[1] .. ARGV[i])
  result[#result + 1] = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
end
return result
`,
);

/**
 * sink-control-count-exits: adds removals to a cohort's window, first opening a new one when none is
 * open or the open one is older than the window. The fields keep the decimal text they were given
 * (exits as HINCRBYFLOAT writes it: integers stay integers), so no epoch ms loses a digit.
 * KEYS[1] the cohort's window HASH (openedAt, membersAtOpen, exits)
 * ARGV[1] exits, ARGV[2] members before, ARGV[3] now (epoch ms), ARGV[4] window (ms)
 * Result: { openedAt, membersAtOpen, exits } as decimal text
 */
export const countExitsScript = redisScript({
  name: 'sink-control-count-exits',
  numberOfKeys: 1,
  lua: `
local openedAt = redis.call('HGET', KEYS[1], 'openedAt')
if not openedAt or tonumber(ARGV[3]) - tonumber(openedAt) > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'openedAt', ARGV[3], 'membersAtOpen', ARGV[2], 'exits', '0')
end
redis.call('HINCRBYFLOAT', KEYS[1], 'exits', ARGV[1])
return redis.call('HMGET', KEYS[1], 'openedAt', 'membersAtOpen', 'exits')
`,
});

/**
 * sink-control-lease: gives the sink's lease to an owner when it is free (never taken, or expired:
 * Redis' own clock decides) or already theirs, for the given time.
 * KEYS[1] the sink's lease STRING (the owner, with a TTL)
 * ARGV[1] owner, ARGV[2] TTL (ms, ≥ 1)
 * Result: 1 leased (or extended), 0 another owner holds it
 */
export const leaseScript = redisScript({
  name: 'sink-control-lease',
  numberOfKeys: 1,
  lua: `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
});

/**
 * sink-control-unlease: gives the lease back when the owner still holds it.
 * KEYS[1] the sink's lease STRING; ARGV[1] owner. Result: 1 given back, 0 not theirs.
 */
export const unleaseScript = redisScript({
  name: 'sink-control-unlease',
  numberOfKeys: 1,
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
});
