/**
 * @module One batch as an entry of the Redis queue's stream: the fields the accept and requeue
 * scripts write (redis-scripts.ts), read back here.
 */
import type { WaitingBatch } from '../core/queue/hand-over.ts';
import { queuedBody, type StoredFormat } from '../runtime/stored-batch.ts';

/** A stream entry read or claimed by a consumer. */
export interface StreamEntry extends WaitingBatch {
  /** The stream entry id (`<epoch ms>-<sequence>`). */
  id: string;
}

/**
 * Reads an entry from its `[field, value, …]` list. `deliveries` is how often Redis handed it out,
 * this time included. Entries written before the fields had names (`m u f t b`) are read too, so
 * a backlog left by an older release is still delivered.
 */
export function readStreamEntry(id: string, fields: string[], deliveries: number): StreamEntry {
  const field = Object.fromEntries(pairs(fields));
  const body = String(field.body ?? field.b ?? '');
  const format: StoredFormat = (field.format ?? field.f) === 'raw' ? 'raw' : 'batch';
  return {
    id,
    messageId: String(field.message_id ?? field.m ?? ''),
    users: Number(field.users ?? field.u ?? 0),
    body: queuedBody(format, body),
    receivedAt: Number(field.received_at ?? field.t ?? 0),
    acceptedAt: entryTime(id),
    handedOver: deliveries - 1,
  };
}

/** When Redis added the entry (epoch ms): the first part of its id. */
export function entryTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** [k1, v1, k2, v2, …] → [[k1, v1], [k2, v2], …], the shape Redis gives hashes and stream fields. */
export function pairs<T>(flat: T[]): [T, T][] {
  const result: [T, T][] = [];
  for (let index = 0; index + 1 < flat.length; index += 2)
    result.push([flat[index] as T, flat[index + 1] as T]);
  return result;
}
