/**
 * @module Where an accepted message stands in the Redis queue, for read-your-writes: its dedupe mark
 * holds its stream entry's id, and an entry is deleted once applied, so "marked and no longer in the
 * stream" means applied. One script: both reads see the same moment.
 */
import type { Redis } from 'ioredis';
import type { MessageProgress } from '../core/queue/queue.ts';
import { redisScript, runScript } from '../runtime/redis-script.ts';
import type { QueueKeys } from './queue-keys.ts';

/**
 * message-progress: KEYS[1] the message_id's dedupe mark, KEYS[2] the stream.
 * Result: 'unknown', 'waiting' or 'done'. A mark without an entry id (written before marks held
 * one) cannot be looked up: 'done' only once the stream is empty.
 */
const messageProgress = redisScript({
  name: 'message-progress',
  numberOfKeys: 2,
  lua: `
local id = redis.call('GET', KEYS[1])
if not id then return 'unknown' end
if not string.find(id, '-', 1, true) then
  if redis.call('XLEN', KEYS[2]) == 0 then return 'done' end
  return 'waiting'
end
if #redis.call('XRANGE', KEYS[2], id, id, 'COUNT', 1) > 0 then return 'waiting' end
return 'done'
`,
});

export async function progressOf(redis: Redis, keys: QueueKeys, messageId: string): Promise<MessageProgress> {
  return (await runScript(redis, messageProgress, [keys.seen(messageId), keys.stream])) as MessageProgress;
}
