/**
 * @module Change-by-change log lines: the `log` sink (one info line per membership change, asked
 * for with `SINKS=log`), and the worker's per-batch summary with its debug lines per change.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { defineSink } from '../../runtime/sink-definition.ts';
import type { MembershipChange } from '../store/store.ts';
import type { Sink } from './sink.ts';

/** No settings: SINK_LOG_* is empty. */
export const logSink = defineSink({
  kind: 'log',
  settings: z.object({}),
  create: (_settings, { name, logger }) => createLogSink(logger, name),
});

/**
 * A change's log fields: cohort, user, kind and version. Left out: user properties, which often hold
 * personal data that has no place in logs, and the idempotency key, which a reader can derive and
 * which would cost a hash per line on a path that logs every change.
 */
function changeFields(change: MembershipChange) {
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
    async deliver(changes) {
      for (const change of changes) log.info(changeFields(change), 'membership change');
      await yieldToEventLoop();
    },
  };
}

/** How many users of a batch entered, left, were updated or left unchanged by its apply. */
export interface ChangeCounts {
  entered: number;
  left: number;
  updated: number;
  unchanged: number;
}

/**
 * Logs one info line for an applied batch (`batch applied`: direction and how many users entered,
 * left, were updated or left unchanged, and the lag since it was accepted), and at debug one
 * `membership change` line per change: log volume follows batches, not users, unless asked.
 */
export function logAppliedBatch(
  log: Logger,
  batch: { inCohort: boolean; users: number; counts: ChangeCounts },
  changes: readonly MembershipChange[],
  lagMs: number,
): void {
  const { users, counts } = batch;
  const direction = batch.inCohort ? 'in' : 'out';
  log.info({ direction, users, ...counts, lag_ms: Math.round(lagMs) }, 'batch applied');
  if (!log.isLevelEnabled('debug')) return;
  for (const change of changes) log.debug(changeFields(change), 'membership change');
}
