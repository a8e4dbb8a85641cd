/** @module The `log` sink: one info line per membership change (`SINKS=log`). */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MembershipChange } from '../store/store.ts';
import type { Sink } from './sink.ts';

/**
 * A change's log fields: cohort, user, kind and version. Left out: user properties, which often hold
 * personal data that has no place in logs, and the idempotency key, which a reader can derive and
 * which would cost a hash per line on a path that logs every change.
 */
export function changeFields(change: MembershipChange) {
  return {
    cohort_id: change.cohortId,
    user_id: change.userId,
    kind: change.kind,
    computed_time: change.computedTime,
    message_id: change.messageId,
    ...(change.restated ? { restated: true } : {}),
  };
}

/** Logs each change at info as `membership change` (see {@link changeFields}). */
export function createLogSink(logger: Logger, name = 'log'): Sink {
  const log = logger.child({ sink: name });
  return {
    name,
    // A first sync logs a line per user; in batches, with a turn for the event loop after each,
    // waiting webhooks are answered between them instead of after a million lines.
    batchSize: 500,
    async send(changes) {
      for (const change of changes) log.info(changeFields(change), 'membership change');
      await yieldToEventLoop();
    },
  };
}
