/**
 * @module Every Redis key the Redis queue uses, built in this one place, under `<KEY_PREFIX>:queue:`.
 *
 * The accept script touches a dedupe mark and the stream together; in Redis Cluster they would have
 * to share a hash slot, which these names do not arrange: the queue expects one Redis primary.
 */

/** The queue's key names under one prefix. */
export interface QueueKeys {
  /** STREAM of waiting batches; an entry is deleted once acknowledged, so its length is the backlog. */
  stream: string;
  /** The consumer group the workers read the stream with (a name, not a key). */
  group: string;
  /** STRING with a TTL (DEDUPE_TTL_SECONDS): this message_id was accepted. */
  seen(messageId: string): string;
  /** STRING integer: users in the stream's batches, for the QUEUE_MAX_USERS bound. */
  waitingUsers: string;
  /** A SCAN pattern matching every key above, for clean-up. */
  pattern: string;
}

export function queueKeys(keyPrefix: string): QueueKeys {
  const root = `${keyPrefix}:queue:`;
  const seenPrefix = `${root}seen:`;
  return {
    stream: `${root}batches`,
    group: 'workers',
    seen: (messageId) => seenPrefix + messageId,
    waitingUsers: `${root}waiting-users`,
    pattern: `${root}*`,
  };
}
