/**
 * @module The engine comparison's traffic, the same for every engine: a first sync of one cohort
 * (every user added once, 1,000 a batch), then optionally churn (batches of existing users drawn at
 * random, every other one a removal) and, to check the semantics, a replay (batches applied again:
 * no-ops) and conflicts (an older message, and two with the first sync's computed_time that win or
 * lose on message_id).
 *
 * A batch is planned as user numbers; bench/user-ids.ts turns number n into the same UUID-like id
 * everywhere, so the ids are random in key order and identical for every engine (no seed needed for
 * them; `seed` only draws the churn's users). Batches are materialised just before they are
 * applied, outside the timed part.
 *
 * `expectedState` is a model that knows nothing of `decideBatch`: it keeps, per user number, which
 * planned batch holds the register, and compares versions with `compareVersions`. It gives the member
 * count after each phase and the register any engine must hold.
 */
import type { CohortBatch } from '../../src/core/batch.ts';
import { compareVersions, type Register } from '../../src/core/store/register.ts';
import { mulberry32 } from '../payload-generator.ts';
import { userIdFor } from '../user-ids.ts';

export interface WorkloadOptions {
  users: number;
  batchUsers: number;
  /** user_properties per user (0: none). */
  properties: number;
  /** Churn batches after the fill. */
  churn: number;
  /** Add the replay and conflict phases. */
  verify: boolean;
  seed: number;
}

export const phaseNames = ['fill', 'churn', 'replay', 'conflict'] as const;
export type PhaseName = (typeof phaseNames)[number];

export interface BatchPlan {
  phase: PhaseName;
  inCohort: boolean;
  computedTime: number;
  messageId: string;
  /** The users, by number, in body order (may repeat one). */
  users: Uint32Array;
  /** Which variant of a user's properties the batch carries. */
  round: number;
}

export const cohortId = 'engines-0';
export const cohortName = 'Engine comparison';
/** The first sync's computed_time (epoch seconds); churn batch j carries `fillTime + 1 + j`. */
export const fillTime = 1_767_225_600;

/** Every batch of the workload, phase by phase, in the order they are applied. */
export function planWorkload(options: WorkloadOptions): BatchPlan[] {
  const { users, batchUsers } = options;
  const plans: BatchPlan[] = [];
  const fillBatches = Math.ceil(users / batchUsers);
  const fillUsers = (batch: number) => {
    const first = batch * batchUsers;
    const numbers = new Uint32Array(Math.min(batchUsers, users - first));
    for (let i = 0; i < numbers.length; i++) numbers[i] = first + i;
    return numbers;
  };
  for (let batch = 0; batch < fillBatches; batch++) {
    plans.push({
      phase: 'fill',
      inCohort: true,
      computedTime: fillTime,
      messageId: `fill-${batch}`,
      users: fillUsers(batch),
      round: 0,
    });
  }
  const random = mulberry32(options.seed);
  for (let j = 0; j < options.churn; j++) {
    const numbers = new Uint32Array(batchUsers);
    for (let i = 0; i < batchUsers; i++) numbers[i] = Math.floor(random() * users);
    plans.push({
      phase: 'churn',
      inCohort: j % 2 === 1,
      computedTime: fillTime + 1 + j,
      messageId: `churn-${j}`,
      users: numbers,
      round: j + 1,
    });
  }
  if (!options.verify) return plans;
  const fill = (batch: number) => plans[Math.min(batch, fillBatches - 1)] as BatchPlan;
  // The same messages again: every user's register already holds them or something newer.
  plans.push({ ...fill(0), phase: 'replay' });
  const firstChurn = plans.find((plan) => plan.phase === 'churn');
  if (firstChurn !== undefined) plans.push({ ...firstChurn, phase: 'replay' });
  // Older than the fill: stale for everyone.
  plans.push({
    ...fill(1),
    phase: 'conflict',
    inCohort: false,
    computedTime: fillTime - 1,
    messageId: 'stale',
  });
  // The fill's computed_time: a later message_id wins (they leave), an earlier one loses.
  const tie = fill(2);
  plans.push({ ...tie, phase: 'conflict', inCohort: false, messageId: `${tie.messageId}~` });
  plans.push({ ...fill(3), phase: 'conflict', inCohort: false, messageId: 'fill-' });
  return plans;
}

/** Plans grouped into commits of `group` batches; a group never spans two phases. */
export function groupPlans(plans: BatchPlan[], group: number): BatchPlan[][] {
  const groups: BatchPlan[][] = [];
  let current: BatchPlan[] = [];
  for (const plan of plans) {
    if (current.length === group || (current.length > 0 && current[0]?.phase !== plan.phase)) {
      groups.push(current);
      current = [];
    }
    current.push(plan);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

const plans4 = ['trial', 'pro', 'team', 'free'];
const countries = ['US', 'FR', 'JP', 'DE', 'BR'];

/** User `user`'s properties in variant `round`: strings, numbers and booleans, as Amplitude's are. */
export function propertiesFor(user: number, count: number, round: number): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (let j = 0; j < count; j++) {
    if (j === 0) properties.plan = plans4[(user + round) % plans4.length];
    else if (j === 1) properties.sessions = (user + round * 7) % 997;
    else if (j === 2) properties.beta = user % 3 === 0;
    else if (j === 3) properties.country = countries[user % countries.length];
    else if (j % 3 === 0) properties[`prop_${j}`] = `v${(user + j) % 100}`;
    else if (j % 3 === 1) properties[`prop_${j}`] = (user * j) % 10_000;
    else properties[`prop_${j}`] = (user + j) % 2 === 0;
  }
  return properties;
}

export const userId = (user: number) => userIdFor(user, 'uuid');

/** The batch a plan describes, as the payload parser would hand it to a store. */
export function materialize(plan: BatchPlan, properties: number): CohortBatch {
  const users = Array.from(plan.users, (user) =>
    properties > 0
      ? { userId: userId(user), properties: propertiesFor(user, properties, plan.round) }
      : { userId: userId(user) },
  );
  return {
    cohortId,
    cohortName,
    inCohort: plan.inCohort,
    computedTime: plan.computedTime,
    messageId: plan.messageId,
    users,
  };
}

export interface ExpectedState {
  /** Members after each phase that ran. */
  counts: Partial<Record<PhaseName, number>>;
  /** The register user `user` must hold at the end. */
  registerOf(user: number): Register | undefined;
}

/** What any correct engine holds after `plans`: last writer wins by (computedTime, messageId). */
export function expectedState(plans: BatchPlan[], users: number, properties: number): ExpectedState {
  const holder = new Int32Array(users).fill(-1);
  const counts: Partial<Record<PhaseName, number>> = {};
  let members = 0;
  plans.forEach((plan, index) => {
    for (const user of plan.users) {
      const held = holder[user] ?? -1;
      const before = held === -1 ? undefined : (plans[held] as BatchPlan);
      if (before !== undefined && compareVersions(plan, before) <= 0) continue;
      holder[user] = index;
      if (plan.inCohort && before?.inCohort !== true) members += 1;
      else if (!plan.inCohort && before?.inCohort === true) members -= 1;
    }
    counts[plan.phase] = members;
  });
  return {
    counts,
    registerOf(user) {
      const held = holder[user] ?? -1;
      if (held === -1) return undefined;
      const plan = plans[held] as BatchPlan;
      return {
        inCohort: plan.inCohort,
        computedTime: plan.computedTime,
        messageId: plan.messageId,
        propertiesJson: properties > 0 ? JSON.stringify(propertiesFor(user, properties, plan.round)) : null,
      };
    },
  };
}

/**
 * The users whose registers are compared: `size` drawn at random, and the first users of the churn,
 * replay and conflict batches (where the interesting outcomes are), without repeats.
 */
export function sampleUsers(plans: BatchPlan[], users: number, size: number, seed: number): number[] {
  const chosen = new Set<number>();
  const random = mulberry32(seed ^ 0x5eed);
  for (let i = 0; i < Math.min(size, users); i++) chosen.add(Math.floor(random() * users));
  let churnSeen = 0;
  for (const plan of plans) {
    if (plan.phase === 'fill' || (plan.phase === 'churn' && churnSeen++ >= 4)) continue;
    for (const user of plan.users.subarray(0, 100)) chosen.add(user);
  }
  return [...chosen];
}
