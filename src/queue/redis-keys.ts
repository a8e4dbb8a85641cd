/**
 * @module Every Redis key the Redis queue and the Redis dead letters use, built in this one place.
 * They live under `<KEY_PREFIX>:queue:` and `<KEY_PREFIX>:letters:`, beside the Redis store's
 * `<KEY_PREFIX>:store:`, so one Redis (and one prefix) can hold all three without collisions.
 *
 * The accept script touches a dedupe mark and the stream together; in Redis Cluster they would have
 * to share a hash slot, which these names do not arrange: the queue expects one Redis primary.
 */
import type { LetterKind } from '../letters/letters.ts';

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

/** The dead letters' key names under one prefix. */
export interface DeadLetterKeys {
  /** STREAM per kind (`rejected`, `failed`, `sink`), capped at QUARANTINE_MAX entries, newest last. */
  letters(kind: LetterKind): string;
  pattern: string;
}

export function deadLetterKeys(keyPrefix: string): DeadLetterKeys {
  const root = `${keyPrefix}:letters:`;
  return { letters: (kind) => root + kind, pattern: `${root}*` };
}
