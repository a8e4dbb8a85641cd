/**
 * @module The default sink: one log line per membership change. Shows what the other sinks would
 * send, and is the smallest sink to copy.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { defineSink } from './definition.ts';
import type { Sink } from './sink.ts';

/** No settings: SINK_LOG_* is empty. */
export const logSink = defineSink({
  kind: 'log',
  settings: z.object({}),
  create: (_settings, { name, logger }) => createLogSink(logger, name),
});

/**
 * Logs each change at info as `membership change`: cohort, user, kind and version. Left out: user
 * properties, which often hold personal data that has no place in logs, and the idempotency key,
 * which a reader can derive and which would cost a hash per line on a path that logs every change.
 */
export function createLogSink(logger: Logger, name = 'log'): Sink {
  const log = logger.child({ sink: name });
  return {
    name,
    // A first sync logs a line per user; in batches, with a turn for the event loop after each,
    // waiting webhooks are answered between them instead of after a million lines.
    batchSize: 500,
    async deliver(changes) {
      for (const change of changes) {
        log.info(
          {
            cohort_id: change.cohortId,
            user_id: change.userId,
            kind: change.kind,
            computed_time: change.computedTime,
            message_id: change.messageId,
            ...(change.restated ? { restated: true } : {}),
          },
          'membership change',
        );
      }
      await yieldToEventLoop();
    },
  };
}
