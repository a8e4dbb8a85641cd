/** @module Sink control on /metrics, read from the shared state at each scrape (so every process agrees). */
import { Gauge, type Registry } from 'prom-client';
import type { SinkControl } from '../core/sinks/control.ts';

export function registerControlMetrics(registry: Registry, control: SinkControl): void {
  const seconds = (ms: number) => ms / 1000;
  // One read per scrape, shared by the gauges below: the first collect reads, the others reuse it.
  let reading: ReturnType<SinkControl['status']> | undefined;
  const status = () => {
    reading ??= control.status().finally(() => setImmediate(() => (reading = undefined)));
    return reading;
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (gauge: Gauge, read: Awaited<ReturnType<SinkControl['status']>>) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        fill(this, await status());
      },
    });
  gauge('cohort_receiver_sink_paused', '1 while the sink is paused, else 0', ['sink'], (g, read) => {
    for (const sink of read.sinks) g.set({ sink: sink.name }, sink.paused ? 1 : 0);
  });
  gauge(
    'cohort_receiver_sink_paused_since_seconds',
    'When the sink was paused (Unix seconds); absent while it runs',
    ['sink'],
    (g, read) => {
      for (const sink of read.sinks) if (sink.paused) g.set({ sink: sink.name }, seconds(sink.paused.at));
    },
  );
  gauge(
    'cohort_receiver_sink_waiting_changes',
    'Changes kept for the sink (paused, backfilling, or behind older ones), not counting held cohorts',
    ['sink'],
    (g, read) => {
      for (const sink of read.sinks) g.set({ sink: sink.name }, sink.waiting);
    },
  );
  gauge(
    'cohort_receiver_sink_held_changes',
    'Changes of cohorts the mass-exit guard holds, kept for the sink until released or discarded',
    ['sink'],
    (g, read) => {
      for (const sink of read.sinks) g.set({ sink: sink.name }, sink.held);
    },
  );
  gauge(
    'cohort_receiver_sink_backfill_remaining_members',
    'Members a running backfill still has to send (of those counted when it started); absent when none runs',
    ['sink'],
    (g, read) => {
      for (const sink of read.sinks) {
        if (sink.backfill) g.set({ sink: sink.name }, Math.max(0, sink.backfill.total - sink.backfill.sent));
      }
    },
  );
  gauge(
    'cohort_receiver_sink_backfill_sent_members',
    'Members a running backfill has sent so far; absent when none runs',
    ['sink'],
    (g, read) => {
      for (const sink of read.sinks) if (sink.backfill) g.set({ sink: sink.name }, sink.backfill.sent);
    },
  );
  gauge(
    'cohort_receiver_cohort_held_since_seconds',
    'When the mass-exit guard began holding the cohort at the sinks (Unix seconds); absent when not held',
    ['cohort_id'],
    (g, read) => {
      for (const hold of read.holds) g.set({ cohort_id: hold.cohortId }, seconds(hold.trippedAt));
    },
  );
  gauge(
    'cohort_receiver_cohort_held_exit_ratio',
    'Removals in the window that tripped the hold, as a share of the members when it opened',
    ['cohort_id'],
    (g, read) => {
      for (const hold of read.holds) g.set({ cohort_id: hold.cohortId }, hold.exits / hold.membersAtOpen);
    },
  );
}
