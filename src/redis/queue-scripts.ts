/**
 * @module The Redis queue's Lua scripts, each named by what it does, with a header listing its KEYS,
 * ARGV and result; run with `runScript` (src/redis/script.ts). Kept as TS strings rather than .lua
 * files so `tsc` ships them in dist/ as is.
 */
import { redisScript } from '../runtime/redis-script.ts';

/**
 * accept-batch: remembers a message_id and enqueues its batch as one step, so no crash can keep one
 * without the other (a mark without a batch would answer "duplicate" to the retry of a lost batch).
 * KEYS[1] the message_id's dedupe mark, KEYS[2] the stream, KEYS[3] the waiting-users counter
 * ARGV[1] dedupe TTL (s), ARGV[2] QUEUE_MAX_USERS, ARGV[3] users in the batch, ARGV[4] message_id,
 * ARGV[5] stored format, ARGV[6] received at (epoch ms), ARGV[7] body; the stream entry gets
 * the fields message_id, users, format, received_at, body (read back in redis-stream-entry.ts);
 * the mark holds the entry's id, so a lookup finds whether the batch still waits (queue-progress.ts)
 * Result: 1 accepted, 0 duplicate, -1 queue full (nothing written, the mark included)
 */
export const acceptBatch = redisScript({
  name: 'accept-batch',
  numberOfKeys: 3,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local users = tonumber(ARGV[3])
local waiting = tonumber(redis.call('GET', KEYS[3]) or '0')
if waiting > 0 and waiting + users > tonumber(ARGV[2]) then return -1 end
local id = redis.call('XADD', KEYS[2], '*',
  'message_id', ARGV[4], 'users', ARGV[3], 'format', ARGV[5], 'received_at', ARGV[6], 'body', ARGV[7])
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
redis.call('INCRBY', KEYS[3], users)
return 1
`,
});

/**
 * requeue-batch: enqueues a batch with no dedupe check and no bound (a dead letter replayed).
 * KEYS[1] the stream, KEYS[2] the waiting-users counter
 * ARGV[1] users, ARGV[2] message_id, ARGV[3] stored format, ARGV[4] received at, ARGV[5] body;
 * the entry gets the same fields as in accept-batch
 * Result: the new entry's id
 */
export const requeueBatch = redisScript({
  name: 'requeue-batch',
  numberOfKeys: 2,
  lua: `
local id = redis.call('XADD', KEYS[1], '*',
  'message_id', ARGV[2], 'users', ARGV[1], 'format', ARGV[3], 'received_at', ARGV[4], 'body', ARGV[5])
redis.call('INCRBY', KEYS[2], tonumber(ARGV[1]))
return id
`,
});

/**
 * acknowledge-batch: marks an entry done and deletes it, so the stream holds only the backlog and
 * never grows past it; the counter moves only if this call is the one that acknowledged it (a
 * reclaimed entry may be finished twice).
 * KEYS[1] the stream, KEYS[2] the waiting-users counter
 * ARGV[1] group, ARGV[2] entry id, ARGV[3] users in the batch
 * Result: 1 acknowledged now, 0 already acknowledged
 */
export const acknowledgeBatch = redisScript({
  name: 'acknowledge-batch',
  numberOfKeys: 2,
  lua: `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('DECRBY', KEYS[2], tonumber(ARGV[3]))
end
return acked
`,
});

/**
 * claim-stale-batch: takes over entries another consumer has held for longer than the idle time
 * (it died, or hangs), with how many times each was delivered, which XAUTOCLAIM alone does not say.
 * KEYS[1] the stream
 * ARGV[1] group, ARGV[2] this consumer, ARGV[3] min idle (ms), ARGV[4] scan cursor, ARGV[5] count
 * Result: { next cursor, { entry id, { field, value, … }, deliveries }… }
 */
export const claimStaleBatch = redisScript({
  name: 'claim-stale-batch',
  numberOfKeys: 1,
  lua: `
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local result = { claimed[1] }
for _, entry in ipairs(claimed[2]) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  local deliveries = 1
  if pending[1] then deliveries = pending[1][4] end
  result[#result + 1] = { entry[1], entry[2], deliveries }
end
return result
`,
});

/**
 * keep-batches-claimed: resets the idle time of entries this consumer still holds, so a long apply
 * is not mistaken for a dead consumer and claimed by another worker. An entry someone else already
 * claimed is left to them.
 * KEYS[1] the stream
 * ARGV[1] group, ARGV[2] this consumer, ARGV[3…] entry ids
 * Result: how many entries were still held
 */
export const keepBatchesClaimed = redisScript({
  name: 'keep-batches-claimed',
  numberOfKeys: 1,
  lua: `
local held = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if pending[1] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    held = held + 1
  end
end
return held
`,
});
