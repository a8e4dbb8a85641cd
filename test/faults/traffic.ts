/**
 * @module Amplitude-shaped traffic for the fault tests: in and out batches of a few cohorts over a
 * shared pool of random string user ids (so registers are contested), listed in random order,
 * computed times shuffled against sending order, and some batches sent twice. Seeded: a failing
 * run can be replayed.
 */
import type { CohortBatch } from '../../src/core/batch.ts';

export interface TrafficOptions {
  seed: number;
  /** Distinct messages. */
  batches: number;
  /** @default 3 */
  cohorts?: number;
  /** Users per batch, drawn between the two. @default [50, 400] */
  usersPerBatch?: [number, number];
  /** Distinct user ids the batches draw from. @default 2000 */
  userPool?: number;
  /** Share of `batches` sent a second time (the sender's own retries come on top). @default 0.1 */
  resendShare?: number;
  /** Share of the batches that remove users. @default 0.3 */
  outShare?: number;
}

export interface Traffic {
  /** Each distinct message once: what the oracle is computed from. */
  batches: CohortBatch[];
  /** What is posted, in order: the batches shuffled, with the resends mixed in. */
  sends: CohortBatch[];
}

/** A small seeded PRNG (mulberry32), enough to shuffle and draw. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeTraffic(options: TrafficOptions): Traffic {
  const random = seededRandom(options.seed);
  const [fewest, most] = options.usersPerBatch ?? [50, 400];
  const poolSize = options.userPool ?? 2000;
  const cohortIds = Array.from({ length: options.cohorts ?? 3 }, (_, i) => `fault-${options.seed}-${i}`);
  const hex = (digits: number) =>
    Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join('');
  // Random strings, as Amplitude's user ids are: no order between them to lean on.
  const pool = Array.from({ length: poolSize }, () => `${hex(8)}-${hex(4)}@example.test`);
  const batches: CohortBatch[] = [];
  for (let index = 0; index < options.batches; index += 1) {
    const size = Math.min(poolSize, fewest + Math.floor(random() * (most - fewest + 1)));
    const users = new Set<string>();
    while (users.size < size) users.add(pool[Math.floor(random() * poolSize)] as string);
    const inCohort = random() >= (options.outShare ?? 0.3);
    batches.push({
      cohortId: cohortIds[Math.floor(random() * cohortIds.length)] as string,
      cohortName: 'Fault suite',
      inCohort,
      computedTime: 1_700_000_000 + Math.floor(random() * 100_000),
      messageId: `${hex(8)}-${hex(4)}-${hex(4)}-${index}`,
      users: [...users].map((userId) =>
        inCohort && random() < 0.5
          ? { userId, properties: { plan: random() < 0.5 ? 'pro' : 'trial' } }
          : { userId },
      ),
    });
  }
  const sends = [...batches];
  const resends = Math.round(batches.length * (options.resendShare ?? 0.1));
  for (let i = 0; i < resends; i += 1)
    sends.push(batches[Math.floor(random() * batches.length)] as CohortBatch);
  for (let index = sends.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [sends[index], sends[other]] = [sends[other] as CohortBatch, sends[index] as CohortBatch];
  }
  return { batches, sends };
}

/** A batch as Amplitude's default payload posts it (written here, not by the receiver's own encoder). */
export function webhookBody(batch: CohortBatch): string {
  return JSON.stringify({
    cohort_name: batch.cohortName,
    cohort_id: batch.cohortId,
    in_cohort: batch.inCohort,
    computed_time: String(batch.computedTime),
    message_id: batch.messageId,
    users: batch.users.map((user) =>
      user.properties === undefined
        ? { user_id: user.userId }
        : { user_id: user.userId, user_properties: user.properties },
    ),
  });
}
