/**
 * @module The traffic: Amplitude-shaped bodies built before the run as templates, so that making
 * a request costs one buffer copy and two fixed-width digit patches (message_id and
 * computed_time). The generator is never the bottleneck; `stats` lets the bench show it.
 */
import { randomBytes } from 'node:crypto';
import type { PayloadShape } from './options.ts';
import { type UserIdStyle, userIdFor } from './user-ids.ts';

export interface GeneratorOptions {
  /** Users per body. */
  users: number;
  /** user_properties per user (ignored by the user-ids-only and per-user-flags shapes, which carry none). */
  properties: number;
  shape: PayloadShape;
  /** How user ids look: random order (UUIDs, e-mails, hashes) or `sequential`. @default uuid */
  ids?: UserIdStyle;
  /** Share of bodies that remove users (in_cohort false). */
  removeRatio: number;
  cohorts: number;
  /** Share of bodies that resend an earlier body byte for byte, as a retrying sender does. */
  duplicateRate: number;
  seed: number;
  /** Memory the templates may use. @default 64 MiB */
  templateBudgetBytes?: number;
  /** @default 4096 */
  maxTemplates?: number;
  /** Makes message_ids unique across runs against one store. @default 8 random hex digits */
  runId?: string;
  /** computed_time of the first rotation through the templates. @default now */
  baseComputedTime?: number;
}

export interface GeneratedBody {
  body: Buffer;
  users: number;
  inCohort: boolean;
  /** A resend of an earlier body (same bytes, so the same message_id or body hash). */
  duplicate: boolean;
  /** The sequence number this body carries; a duplicate carries an earlier one. */
  sequence: number;
}

export interface PayloadGenerator {
  next(): GeneratedBody;
  /** Distinct user sets the bodies rotate through; each later rotation carries a later computed_time. */
  readonly templates: number;
  readonly distinctUsers: number;
  readonly meanBodyBytes: number;
  /** Bodies made and the wall time spent making them. */
  readonly stats: { bodies: number; milliseconds: number };
}

/** One body, in both directions, with where its per-request digits go. */
interface Template {
  add: Buffer;
  remove: Buffer;
  /** Byte offsets of the 10-digit sequence and computed_time fields; -1 when the shape has none. */
  sequenceAt: { add: number; remove: number };
  timeAt: { add: number; remove: number };
}

const digits = 10;
const placeholder = '0'.repeat(digits);
/** Duplicates resend one of the last this-many bodies: recent enough to be inside any dedupe window. */
const duplicateWindow = 1024;

/**
 * Bodies as Amplitude sends most of them: the default shape, `users` random-order ids with 3
 * properties each, users entering one of 4 cohorts, no resends.
 */
export function amplitudeBodies(users: number, seed: number, extra: Partial<GeneratorOptions> = {}) {
  return createPayloadGenerator({
    users,
    properties: 3,
    shape: 'default',
    ids: 'uuid',
    removeRatio: 0,
    cohorts: 4,
    duplicateRate: 0,
    seed,
    ...extra,
  });
}

/** Builds the templates now (this is the slow part: up to `templateBudgetBytes` of JSON). */
export function createPayloadGenerator(options: GeneratorOptions): PayloadGenerator {
  checkOptions(options);
  const runId = options.runId ?? randomBytes(4).toString('hex');
  const baseTime = options.baseComputedTime ?? Math.floor(Date.now() / 1000);
  const budget = options.templateBudgetBytes ?? 64 * 1024 * 1024;
  const first = buildTemplate(0, options, runId);
  const perTemplate = first.add.length + first.remove.length;
  const count = Math.max(1, Math.min(options.maxTemplates ?? 4096, Math.floor(budget / perTemplate)));
  const templates = [first];
  for (let index = 1; index < count; index++) templates.push(buildTemplate(index, options, runId));
  const meanBodyBytes = templates.reduce((sum, t) => sum + t.add.length + t.remove.length, 0) / (2 * count);

  const random = mulberry32(options.seed);
  const recentDirections = new Uint8Array(duplicateWindow);
  const stats = { bodies: 0, milliseconds: 0 };
  let nextSequence = 0;

  const make = (sequence: number, inCohort: boolean, duplicate: boolean): GeneratedBody => {
    const template = templates[sequence % count] as Template;
    const source = inCohort ? template.add : template.remove;
    const body = Buffer.allocUnsafe(source.length);
    source.copy(body);
    const direction = inCohort ? 'add' : 'remove';
    writeDigits(body, template.sequenceAt[direction], sequence);
    writeDigits(body, template.timeAt[direction], baseTime + Math.floor(sequence / count));
    return { body, users: options.users, inCohort, duplicate, sequence };
  };

  return {
    templates: count,
    distinctUsers: count * options.users,
    meanBodyBytes,
    stats,
    next() {
      const started = performance.now();
      let generated: GeneratedBody;
      if (nextSequence > 0 && random() < options.duplicateRate) {
        const back = 1 + Math.floor(random() * Math.min(nextSequence, duplicateWindow));
        const sequence = nextSequence - back;
        generated = make(sequence, recentDirections[sequence % duplicateWindow] === 1, true);
      } else {
        const sequence = nextSequence++;
        const inCohort = random() >= options.removeRatio;
        recentDirections[sequence % duplicateWindow] = inCohort ? 1 : 0;
        generated = make(sequence, inCohort, false);
      }
      stats.bodies += 1;
      stats.milliseconds += performance.now() - started;
      return generated;
    },
  };
}

function checkOptions(options: GeneratorOptions) {
  const positive = ['users', 'cohorts'] as const;
  for (const name of positive) {
    const value = options[name];
    if (!Number.isInteger(value) || value < 1) {
      throw new TypeError(
        `Expected \`${name}\` to be a positive integer, got \`${value}\` (${typeof value})`,
      );
    }
  }
  for (const name of ['removeRatio', 'duplicateRate'] as const) {
    const value = options[name];
    if (!(value >= 0 && value <= 1)) {
      throw new TypeError(`Expected \`${name}\` to be between 0 and 1, got \`${value}\` (${typeof value})`);
    }
  }
}

/** Template `index` carries users number `index * users + i` (bench/user-ids.ts) of cohort `bench-<index mod cohorts>`. */
function buildTemplate(index: number, options: GeneratorOptions, runId: string): Template {
  const cohort = index % options.cohorts;
  const cohortId = `bench-${cohort}`;
  const cohortName = `Bench cohort ${cohort}`;
  const firstUser = index * options.users;
  const ids = options.ids ?? 'uuid';
  if (options.shape === 'per-user-flags')
    return buildFlagsTemplate(options.users, firstUser, cohortId, cohortName, runId, ids);

  const properties = options.shape === 'default' ? options.properties : 0;
  const users: string[] = [];
  for (let i = 0; i < options.users; i++) {
    const number = firstUser + i;
    users.push(
      properties === 0
        ? `{"user_id":"${userIdFor(number, ids)}"}`
        : `{"user_id":"${userIdFor(number, ids)}","user_properties":${propertiesJson(number, properties)}}`,
    );
  }
  const usersJson = users.join(',');
  const envelope = (inCohort: boolean) =>
    Buffer.from(
      `{"cohort_name":${JSON.stringify(cohortName)},"cohort_id":"${cohortId}","in_cohort":${inCohort},` +
        `"computed_time":"${placeholder}","message_id":"bench-${runId}::${placeholder}","users":[${usersJson}]}`,
    );
  const add = envelope(true);
  const remove = envelope(false);
  const sequenceOffset = (body: Buffer) => body.indexOf(`::${placeholder}"`) + 2;
  const timeOffset = (body: Buffer) => body.indexOf('"computed_time":"') + '"computed_time":"'.length;
  return {
    add,
    remove,
    sequenceAt: { add: sequenceOffset(add), remove: sequenceOffset(remove) },
    timeAt: { add: timeOffset(add), remove: timeOffset(remove) },
  };
}

/**
 * The per-user flag list has no message_id: the receiver dedupes on a hash of the bytes. So the
 * first user's id carries the sequence number, which makes every fresh body's bytes unique.
 */
function buildFlagsTemplate(
  users: number,
  firstUser: number,
  cohortId: string,
  cohortName: string,
  runId: string,
  ids: UserIdStyle,
): Template {
  const key = JSON.stringify(`amplitude_${cohortName}_${cohortId}`);
  const list = (inCohort: boolean) => {
    const entries = [`{"user_id":"seq-${runId}-${placeholder}",${key}:${inCohort}}`];
    for (let i = 1; i < users; i++)
      entries.push(`{"user_id":"${userIdFor(firstUser + i, ids)}",${key}:${inCohort}}`);
    return Buffer.from(`[${entries.join(',')}]`);
  };
  const add = list(true);
  const remove = list(false);
  const marker = `seq-${runId}-`;
  return {
    add,
    remove,
    sequenceAt: { add: add.indexOf(marker) + marker.length, remove: remove.indexOf(marker) + marker.length },
    timeAt: { add: -1, remove: -1 },
  };
}

const plans = ['trial', 'pro', 'team', 'free'];
const countries = ['US', 'FR', 'JP', 'DE', 'BR'];

/** Deterministic, varied values: strings, numbers and booleans, as Amplitude's properties are. */
function propertiesJson(user: number, count: number): string {
  const parts: string[] = [];
  for (let j = 0; j < count; j++) {
    if (j === 0) parts.push(`"plan":"${plans[user % plans.length]}"`);
    else if (j === 1) parts.push(`"sessions":${user % 997}`);
    else if (j === 2) parts.push(`"beta":${user % 3 === 0}`);
    else if (j === 3) parts.push(`"country":"${countries[user % countries.length]}"`);
    else if (j % 3 === 0) parts.push(`"prop_${j}":"v${(user + j) % 100}"`);
    else if (j % 3 === 1) parts.push(`"prop_${j}":${(user * j) % 10_000}`);
    else parts.push(`"prop_${j}":${(user + j) % 2 === 0}`);
  }
  return `{${parts.join(',')}}`;
}

/** Writes `value` as exactly 10 ASCII digits at `offset` (no string allocation). */
function writeDigits(body: Buffer, offset: number, value: number) {
  if (offset < 0) return;
  let rest = value;
  for (let i = digits - 1; i >= 0; i--) {
    body[offset + i] = 48 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/** A small seeded PRNG, so the same seed sends the same traffic to the target and the baseline. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
