/**
 * @module The plan: every message Amplitude would send over the simulated cohorts' lives, worked
 * out from the seed alone. An initial full sync in batches, then steps (one sync each, 60 s of
 * computed_time apart) carrying only the users who entered or left, as Amplitude's syncs do.
 */
import type { Shape } from './options.ts';
import { createRandom, type Random } from './random.ts';

/** Amplitude's user properties are scalars; null is a property with no value. */
export type PropertyValue = string | number | boolean | null;

export interface PlannedUser {
  userId: string;
  /** Absent when the shape carries no properties (or `--properties 0`). */
  properties?: Record<string, PropertyValue>;
}

/** One message, before it is given a body shape: one cohort, one direction, many users. */
export interface PlannedMessage {
  /** Position in the plan, the order Amplitude computed them in. */
  index: number;
  /** 0 for the initial full sync, then 1 to `steps`. */
  step: number;
  cohortId: string;
  cohortName: string;
  inCohort: boolean;
  /** Epoch seconds. */
  computedTime: number;
  messageId: string;
  users: PlannedUser[];
}

export interface PlannedCohort {
  cohortId: string;
  cohortName: string;
}

export interface Plan {
  cohorts: PlannedCohort[];
  messages: PlannedMessage[];
}

export interface PlanOptions {
  cohorts: number;
  users: number;
  steps: number;
  batchSize: number;
  properties: number;
  churn: number;
  seed: number;
  runId: string;
  startTime: number;
  shape: Shape;
}

/** Amplitude's real-time cadence: one sync a minute. */
export const secondsPerStep = 60;

/** Builds the plan; the same options always give the same plan. */
export function createPlan(options: PlanOptions): Plan {
  const random = createRandom(options.seed, 0);
  const userIds = Array.from({ length: options.users }, (_, index) => userIdFor(index));
  const carriesProperties = options.shape === 'default' && options.properties > 0;
  const cohorts = Array.from({ length: options.cohorts }, (_, index) => ({
    cohortId: `${options.runId}-c${index + 1}`,
    cohortName: `Sim ${index + 1} ${options.runId}: power_users "beta" ünï`,
  }));
  // Per cohort: who is in it now, with the properties their last add carried.
  const current = cohorts.map(() => new Map<string, PlannedUser>());
  const messages: PlannedMessage[] = [];
  for (let step = 0; step <= options.steps; step++) {
    const computedTime = options.startTime + step * secondsPerStep;
    cohorts.forEach((cohort, cohortIndex) => {
      const members = current[cohortIndex] as Map<string, PlannedUser>;
      const entering: PlannedUser[] = [];
      const leaving: PlannedUser[] = [];
      // The initial sync puts about half the users in; later steps move `churn` of them.
      const moveChance = step === 0 ? 0.5 : options.churn;
      for (const userId of userIds) {
        if (!random.chance(moveChance)) continue;
        const member = members.get(userId);
        if (member) {
          leaving.push(member);
          members.delete(userId);
          continue;
        }
        const user: PlannedUser = carriesProperties
          ? { userId, properties: propertiesFor(random, options.properties) }
          : { userId };
        members.set(userId, user);
        entering.push(user);
      }
      const envelope = { step, computedTime, ...cohort };
      for (const [inCohort, users] of [
        [false, leaving],
        [true, entering],
      ] as const) {
        for (let start = 0, batch = 1; start < users.length; start += options.batchSize, batch++) {
          messages.push({
            ...envelope,
            index: messages.length,
            inCohort,
            // Amplitude's example looks like `<sync-run>::enter::<batch number>`.
            messageId: `${cohort.cohortId}-s${step}::${inCohort ? 'enter' : 'exit'}::${batch}`,
            users: users.slice(start, start + options.batchSize),
          });
        }
      }
    });
  }
  return { cohorts, messages };
}

/** Mostly plain ids; every seventh holds a quote, a backslash, a slash and non-ASCII text. */
function userIdFor(index: number): string {
  const id = `user-${String(index + 1).padStart(6, '0')}`;
  return (index + 1) % 7 === 0 ? `${id} "q" \\/ é😀` : id;
}

/** Property generators, in the order `--properties N` takes them; values a template can get wrong. */
const propertyGenerators: [string, (random: Random) => PropertyValue][] = [
  ['plan', (random) => random.pick(['trial', 'pro', 'enterprise'])],
  // Never below 1,000: a template printing numbers in a locale format writes "1,234".
  ['sessions', (random) => 1000 + random.int(10_000_000)],
  ['beta', (random) => random.chance(0.5)],
  ['score', (random) => random.int(1_000_000) / 1000],
  [
    'nickname',
    (random) =>
      random.pick(['Zoë "Z" O\'Neil', 'C:\\Users\\zoe', 'two\nlines', '日本語 😀', '', '</script>']),
  ],
  ['referrer', (random) => (random.chance(0.3) ? null : random.pick(['ads', 'organic', 'partner']))],
];

function propertiesFor(random: Random, count: number): Record<string, PropertyValue> {
  const properties: Record<string, PropertyValue> = {};
  for (let index = 0; index < count; index++) {
    const [name, generate] = propertyGenerators[index % propertyGenerators.length] as [
      string,
      (random: Random) => PropertyValue,
    ];
    properties[index < propertyGenerators.length ? name : `${name}_${index}`] = generate(random);
  }
  return properties;
}
