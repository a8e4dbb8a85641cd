/** @module The Lua script that writes a flush's worth of recorded items to Redis in one round trip. */
import type { Redis } from 'ioredis';

/** How many ARGV slots each recorded item takes (kind and three fields; unused ones are empty). */
export const slotsPerItem = 4;

/**
 * KEYS[1] the deliveries stream.
 * ARGV[1] the message hash prefix, ARGV[2] the bound, ARGV[3] seconds a hash without an accepting
 * entry lives; then items of 4 slots each:
 *   `r`, message_id ('' for none), outcome, receipt JSON  -> XADD; an `accepted` one claims the hash,
 *        a `duplicate` one counts on it
 *   `a`, message_id, apply result JSON (sinks apart), ''   -> HSET applied
 *   `s`, message_id, sink name, sink result JSON           -> HSET sink:<name>
 * Then trims the stream to exactly the bound; an evicted accepting entry takes its hash along.
 * Returns the number of entries evicted.
 */
const recordDeliveriesScript = {
  numberOfKeys: 1,
  lua: `
local stream, prefix = KEYS[1], ARGV[1]
local max, orphanTtl = tonumber(ARGV[2]), tonumber(ARGV[3])

local function unclaimedExpires(key)
  if redis.call('HEXISTS', key, 'entry') == 0 then redis.call('EXPIRE', key, orphanTtl) end
end

for i = 4, #ARGV, 4 do
  local kind, messageId, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = prefix .. messageId
  if kind == 'r' then
    local id = redis.call('XADD', stream, '*', 'm', messageId, 'o', a, 'r', b)
    if messageId ~= '' and a == 'accepted' then
      redis.call('HSET', key, 'entry', id)
      redis.call('PERSIST', key)
    elseif messageId ~= '' and a == 'duplicate' then
      redis.call('HINCRBY', key, 'duplicates', 1)
      unclaimedExpires(key)
    end
  elseif kind == 'a' then
    redis.call('HSET', key, 'applied', a)
    unclaimedExpires(key)
  elseif kind == 's' then
    redis.call('HSET', key, 'sink:' .. a, b)
    unclaimedExpires(key)
  end
end

local excess = redis.call('XLEN', stream) - max
if excess <= 0 then return 0 end
for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', excess)) do
  local messageId = entry[2][2]
  if messageId ~= '' and redis.call('HGET', prefix .. messageId, 'entry') == entry[1] then
    redis.call('DEL', prefix .. messageId)
  end
end
redis.call('XTRIM', stream, 'MAXLEN', max)
return excess
`,
};

/** Runs the script through ioredis' defineCommand (by SHA; the whole script on a connection's first use). */
export function recordDeliveries(redis: Redis, keysAndArgs: readonly (string | number)[]): Promise<unknown> {
  const command = 'lua:inspect-record-deliveries';
  if (!(command in redis)) redis.defineCommand(command, recordDeliveriesScript);
  return (redis as unknown as Record<string, (args: typeof keysAndArgs) => Promise<unknown>>)[command]?.(
    keysAndArgs,
  ) as Promise<unknown>;
}
