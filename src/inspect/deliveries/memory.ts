/**
 * @module The in-process DeliveryLog (QUEUE=memory): a ring of the newest `maxDeliveries` rows.
 * Recording is a few array and map writes, so it needs no batching; the history goes with the process.
 */
import type * as Log from './delivery-log.ts';
import { defaultMaxDeliveries } from './delivery-log.ts';
import { cohortActivityOf, copyOf, matchesQuery, mergeApplied, withSink } from './rows.ts';

export interface MemoryDeliveryLogOptions {
  /** @default 10_000 */
  maxDeliveries?: number;
  /** Ids start here; @default Date.now() * 1000, so a restarted process's ids stay above a browser's Last-Event-ID. */
  firstId?: number;
}

/** What arrived for a message_id before its accepting receipt did. */
interface Pending {
  applied?: Log.ApplyResult;
  sinks: Log.SinkResult[];
}

export function createMemoryDeliveryLog(options: MemoryDeliveryLogOptions = {}): Log.DeliveryLog {
  const max = options.maxDeliveries ?? defaultMaxDeliveries;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`Expected \`maxDeliveries\` to be a positive integer, got \`${max}\``);
  }
  const firstSequence = options.firstId ?? Date.now() * 1000;
  const ring: (Log.Delivery | undefined)[] = new Array(max);
  let nextSequence = firstSequence;
  const acceptedBy = new Map<string, Log.Delivery>();
  const pending = new Map<string, Pending>();

  const oldestSequence = () => Math.max(firstSequence, nextSequence - max);
  const at = (sequence: number) => ring[sequence % max] as Log.Delivery;
  function* newestFirst(below = nextSequence) {
    for (let sequence = Math.min(below, nextSequence) - 1; sequence >= oldestSequence(); sequence -= 1) {
      yield at(sequence);
    }
  }

  function keep(delivery: Log.Delivery) {
    const slot = nextSequence % max;
    const evicted = ring[slot];
    if (evicted?.messageId != null && acceptedBy.get(evicted.messageId) === evicted) {
      acceptedBy.delete(evicted.messageId);
    }
    ring[slot] = delivery;
    nextSequence += 1;
  }

  function pendingFor(messageId: string): Pending {
    let entry = pending.get(messageId);
    if (!entry) {
      entry = { sinks: [] };
      pending.set(messageId, entry);
      // Results for batches whose receipt never comes (evicted, recorded elsewhere) must not pile up.
      if (pending.size > max) pending.delete(pending.keys().next().value as string);
    }
    return entry;
  }

  return {
    recordReceipt(receipt: Log.DeliveryReceipt) {
      // Object.assign, not a spread followed by more properties: on Node 20's V8 every object built
      // that way gets a hidden class of its own, and the ring keeps 10,000 of them.
      const delivery: Log.Delivery = Object.assign({}, receipt, { id: String(nextSequence), duplicates: 0 });
      const { messageId } = receipt;
      if (messageId !== null && receipt.outcome === 'accepted') {
        const early = pending.get(messageId);
        pending.delete(messageId);
        if (early?.applied) delivery.applied = Object.assign({}, early.applied, { sinks: early.sinks });
        acceptedBy.set(messageId, delivery);
      } else if (messageId !== null && receipt.outcome === 'duplicate') {
        const original = acceptedBy.get(messageId);
        if (original) original.duplicates += 1;
      }
      keep(delivery);
    },

    recordApplied(result: Log.ApplyResult) {
      const delivery = acceptedBy.get(result.messageId);
      if (delivery) {
        delivery.applied = mergeApplied(delivery.applied, result);
        return;
      }
      const entry = pendingFor(result.messageId);
      entry.applied = result;
      for (const sink of result.sinks) entry.sinks = withSink(entry.sinks, sink);
    },

    recordSinkResult(messageId: string, result: Log.SinkResult) {
      const applied = acceptedBy.get(messageId)?.applied;
      if (applied) {
        applied.sinks = withSink(applied.sinks, result);
        return;
      }
      const entry = pendingFor(messageId);
      entry.sinks = withSink(entry.sinks, result);
    },

    async list(query: Log.DeliveryQuery) {
      const below = cursorOf(query.before) ?? nextSequence;
      const deliveries: Log.Delivery[] = [];
      for (const delivery of newestFirst(below)) {
        if (!matchesQuery(delivery, query)) continue;
        if (deliveries.length === query.limit) {
          return { deliveries, nextCursor: (deliveries.at(-1) as Log.Delivery).id };
        }
        deliveries.push(copyOf(delivery));
      }
      return { deliveries, nextCursor: null };
    },

    async get(messageId: string) {
      const accepted = acceptedBy.get(messageId);
      if (accepted) return copyOf(accepted);
      for (const delivery of newestFirst()) if (delivery.messageId === messageId) return copyOf(delivery);
      return undefined;
    },

    async since(afterId: string | undefined, limit: number) {
      const after = cursorOf(afterId);
      const first = Math.max(oldestSequence(), after === undefined ? nextSequence - limit : after + 1);
      const newer: Log.Delivery[] = [];
      for (let sequence = first; sequence < Math.min(nextSequence, first + limit); sequence += 1) {
        newer.push(copyOf(at(sequence)));
      }
      return newer;
    },

    async cohortActivity() {
      return cohortActivityOf(newestFirst());
    },

    async retention() {
      const kept = nextSequence - oldestSequence();
      return { kept, max, oldestAt: kept === 0 ? null : at(oldestSequence()).receivedAt };
    },

    async flush() {},
    async close() {},
  };
}

/** A cursor this log issued; anything else (a hand-edited URL) reads as no cursor. */
function cursorOf(id: string | undefined): number | undefined {
  return id !== undefined && /^\d{1,16}$/.test(id) ? Number(id) : undefined;
}
