/** @module The Prometheus series of the sinks, registered on the receiver's registry. */
import { Counter, type Registry } from 'prom-client';

export function createSinkMetrics(registry: Registry) {
  const on = { registers: [registry] };
  return {
    changes: new Counter({
      name: 'cohort_receiver_sink_changes_total',
      help: 'Membership changes handed to a sink, by sink and outcome (delivered, dead_lettered)',
      labelNames: ['sink', 'outcome'] as const,
      ...on,
    }),
    failedAttempts: new Counter({
      name: 'cohort_receiver_sink_failed_attempts_total',
      help: 'Failed attempts to deliver a batch of changes to a sink (each retry counts)',
      labelNames: ['sink'] as const,
      ...on,
    }),
  };
}

export type SinkMetrics = ReturnType<typeof createSinkMetrics>;
