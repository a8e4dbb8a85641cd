/**
 * @module Whether the store answers, as the worker's applies find it: one log line and one event
 * when it goes away, one when it answers again (with how long it was away), however many batches
 * wait meanwhile.
 */
import type { Logger } from 'pino';
import type { ReceiverEvents } from './events.ts';

export interface StoreOutage {
  /** An apply found the store away. */
  away(messageId: string, error: Error): void;
  /** The store answered (an apply committed, or the store refused a batch). */
  answered(): void;
}

export function trackStoreOutage(events: ReceiverEvents, logger: Logger, now: () => number): StoreOutage {
  let awaySince: number | undefined;
  return {
    away(messageId, error) {
      events.emit('storeUnavailable', { messageId, error });
      if (awaySince !== undefined) return;
      awaySince = now();
      logger.warn(
        { err: error },
        'store unavailable: applying waits for it; accepted batches stay in the queue, none becomes a dead letter',
      );
      events.emit('storeAvailability', { available: false });
    },
    answered() {
      if (awaySince === undefined) return;
      const awayMs = Math.max(0, now() - awaySince);
      awaySince = undefined;
      logger.info({ away_ms: Math.round(awayMs) }, 'store available again: applying resumed');
      events.emit('storeAvailability', { available: true, awayMs });
    },
  };
}
