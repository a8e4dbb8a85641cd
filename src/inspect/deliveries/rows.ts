/**
 * @module What every DeliveryLog backend computes the same way: which rows a query keeps, how apply
 * and sink results merge, and a cohort's latest sync.
 */
import type { ApplyResult, CohortActivity, Delivery, DeliveryQuery, SinkResult } from './delivery-log.ts';

/** The filters of a query other than the cursor and the limit. */
export function matchesQuery(delivery: Delivery, query: DeliveryQuery): boolean {
  if (query.outcome !== undefined && delivery.outcome !== query.outcome) return false;
  if (query.cohortId !== undefined && delivery.cohortId !== query.cohortId) return false;
  if (query.inCohort !== undefined && delivery.inCohort !== query.inCohort) return false;
  if (query.from !== undefined && delivery.receivedAt < query.from) return false;
  if (query.to !== undefined && delivery.receivedAt >= query.to) return false;
  return true;
}

/** An apply result replacing an earlier one keeps the sink results it does not restate. */
export function mergeApplied(earlier: ApplyResult | undefined, result: ApplyResult): ApplyResult {
  let sinks = earlier?.sinks ?? [];
  for (const sink of result.sinks) sinks = withSink(sinks, sink);
  // Not `{ ...result, sinks }`: that shape gives each object its own hidden class (deliveries/memory.ts).
  return Object.assign({}, result, { sinks });
}

/** Adds a sink's result, replacing that sink's earlier one. */
export function withSink(sinks: readonly SinkResult[], result: SinkResult): SinkResult[] {
  return [...sinks.filter((sink) => sink.name !== result.name), { ...result }];
}

/**
 * Per cohort: the newest accepted batch, and entered/left summed over the applied batches that share
 * the newest `computedTime` (one sync arrives as many batches).
 */
export function cohortActivityOf(deliveries: Iterable<Delivery>): Map<string, CohortActivity> {
  const activity = new Map<string, CohortActivity>();
  const accepted: Delivery[] = [];
  for (const delivery of deliveries) {
    if (delivery.outcome !== 'accepted' || delivery.cohortId === undefined) continue;
    accepted.push(delivery);
    const computedTime = delivery.computedTime ?? 0;
    const known = activity.get(delivery.cohortId);
    activity.set(delivery.cohortId, {
      lastBatchAt: Math.max(known?.lastBatchAt ?? 0, delivery.receivedAt),
      lastComputedTime: Math.max(known?.lastComputedTime ?? 0, computedTime),
      entered: 0,
      left: 0,
    });
  }
  for (const delivery of accepted) {
    const cohort = activity.get(delivery.cohortId as string) as CohortActivity;
    if (!delivery.applied || (delivery.computedTime ?? 0) !== cohort.lastComputedTime) continue;
    cohort.entered += delivery.applied.entered;
    cohort.left += delivery.applied.left;
  }
  return activity;
}

/** A copy the caller may change without changing what the log keeps. */
export function copyOf(delivery: Delivery): Delivery {
  return structuredClone(delivery);
}
