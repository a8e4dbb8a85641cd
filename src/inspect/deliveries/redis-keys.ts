/**
 * @module Every Redis key the delivery log uses, built in this one place, under
 * `<KEY_PREFIX>:inspect:`, beside the queue's `:queue:`, the store's `:store:` and the dead letters'
 * `:letters:`.
 *
 * The record script writes the stream and message hashes together; in Redis Cluster they would have
 * to share a hash slot, which these names do not arrange: like the queue, it expects one primary.
 */

/** The delivery log's key names under one prefix. */
export interface DeliveryLogKeys {
  /** STREAM of receipts, newest last, trimmed to exactly INSPECT_MAX_DELIVERIES entries. */
  deliveries: string;
  /** What {@link message} puts before the message_id (the record script builds keys from it). */
  messagePrefix: string;
  /**
   * HASH per message_id: `entry` (the stream id of the accepting receipt), `duplicates`, `applied`
   * (JSON) and `sink:<name>` (JSON). Deleted with its accepting entry; without one it expires.
   */
  message(messageId: string): string;
}

export function deliveryLogKeys(keyPrefix: string): DeliveryLogKeys {
  const messagePrefix = `${keyPrefix}:inspect:message:`;
  return {
    deliveries: `${keyPrefix}:inspect:deliveries`,
    messagePrefix,
    message: (id) => messagePrefix + id,
  };
}
