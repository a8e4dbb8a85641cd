/**
 * @module What the key-value engines (lmdb, level, rocksdb) share: the key layout, the packed
 * register and a group's read-decide-write.
 *
 * Keys: `cohortId + '\0' + userId` → the packed register; `'\0' + cohortId` → the cohort's member
 * count (as decimal text). Cohort ids are never empty, so a register key never starts with `\0`.
 *
 * A group is applied as the SQLite store applies it, in one commit: read the registers of every
 * (cohort, user) the group's batches carry (with the count keys), in key order; decide each batch in
 * turn with `decideBatch`, each seeing the registers the batches before it won; write the winning
 * registers and the moved counts, in key order.
 */
import type { CohortBatch } from '../../src/core/batch.ts';
import { decideBatch, type Register } from '../../src/core/store/register.ts';

export const registerKey = (cohortId: string, userId: string) => `${cohortId}\0${userId}`;
export const countKey = (cohortId: string) => `\0${cohortId}`;

/** How an engine stores a register and a count as its values. */
export interface RegisterCodec<V> {
  readonly name: string;
  encode(register: Register): V;
  decode(value: V): Register;
  encodeCount(count: number): V;
  decodeCount(value: V): number;
}

/**
 * A register as one short string: a flag digit (1: in the cohort, 2: has properties), the
 * computedTime, the messageId's length, the messageId and the properties' JSON text:
 * `3` `1700000000` `,` `11` `,` `fill-run-42` `{"plan":"pro"}`. About 20 bytes plus the message id and
 * properties; no JSON or msgpack of an object.
 */
export const stringCodec: RegisterCodec<string> = {
  name: 'string',
  encode({ inCohort, computedTime, messageId, propertiesJson }) {
    const flag = (inCohort ? 1 : 0) | (propertiesJson === null ? 0 : 2);
    return `${flag}${computedTime},${messageId.length},${messageId}${propertiesJson ?? ''}`;
  },
  decode(value) {
    const flag = value.charCodeAt(0) - 48;
    const timeEnd = value.indexOf(',', 1);
    const lengthEnd = value.indexOf(',', timeEnd + 1);
    const idStart = lengthEnd + 1;
    const idEnd = idStart + Number(value.slice(timeEnd + 1, lengthEnd));
    return {
      inCohort: (flag & 1) === 1,
      computedTime: Number(value.slice(1, timeEnd)),
      messageId: value.slice(idStart, idEnd),
      propertiesJson: (flag & 2) === 2 ? value.slice(idEnd) : null,
    };
  },
  encodeCount: (count) => String(count),
  decodeCount: (value) => Number(value),
};

/**
 * A register as bytes: flag (u8), computedTime (f64 LE), messageId byte length (u16 LE), the
 * messageId and the properties, as UTF-8. 11 bytes of header; one Buffer per value.
 */
export const binaryCodec: RegisterCodec<Buffer> = {
  name: 'binary',
  encode({ inCohort, computedTime, messageId, propertiesJson }) {
    const idBytes = Buffer.byteLength(messageId);
    const propertyBytes = propertiesJson === null ? 0 : Buffer.byteLength(propertiesJson);
    const buffer = Buffer.allocUnsafe(11 + idBytes + propertyBytes);
    buffer[0] = (inCohort ? 1 : 0) | (propertiesJson === null ? 0 : 2);
    buffer.writeDoubleLE(computedTime, 1);
    buffer.writeUInt16LE(idBytes, 9);
    buffer.write(messageId, 11);
    if (propertiesJson !== null) buffer.write(propertiesJson, 11 + idBytes);
    return buffer;
  },
  decode(value) {
    const flag = value[0] ?? 0;
    const idEnd = 11 + value.readUInt16LE(9);
    return {
      inCohort: (flag & 1) === 1,
      computedTime: value.readDoubleLE(1),
      messageId: value.toString('utf8', 11, idEnd),
      propertiesJson: (flag & 2) === 2 ? value.toString('utf8', idEnd) : null,
    };
  },
  encodeCount: (count) => Buffer.from(String(count)),
  decodeCount: (value) => Number(value.toString()),
};

/** One cohort's part of a group: its distinct users, and where their keys sit in {@link KvGroup.keys}. */
interface CohortPart {
  cohortId: string;
  /** Index of the cohort's count key in `keys`. */
  countAt: number;
  /** Index of the first user's register key in `keys`; user i's is at `first + i`. */
  first: number;
  /** Distinct, in key order when sorted. */
  userIds: string[];
}

/** The keys a group reads and writes: its cohorts' count keys, then each cohort's register keys. */
export interface KvGroup {
  keys: string[];
  cohorts: Map<string, CohortPart>;
}

/**
 * Plans a group: the count keys (which start with `\0`, so they sort first), then every distinct
 * register key its batches carry, cohort by cohort; in key order when `sort` (JS's default sort, by
 * UTF-16 unit: any consistent order gives the locality, and this one is the cheapest).
 */
export function planKvGroup(batches: CohortBatch[], sort: boolean): KvGroup {
  const userIds = new Map<string, string[]>();
  for (const { cohortId, users } of batches) {
    const ids = userIds.get(cohortId) ?? [];
    userIds.set(cohortId, ids);
    for (const { userId } of users) ids.push(userId);
  }
  const cohortIds = [...userIds.keys()];
  if (sort) cohortIds.sort();
  const keys = cohortIds.map(countKey);
  const cohorts = new Map<string, CohortPart>();
  cohortIds.forEach((cohortId, countAt) => {
    const listed = userIds.get(cohortId) ?? [];
    const distinct = sort ? sortedDistinct(listed) : [...new Set(listed)];
    cohorts.set(cohortId, { cohortId, countAt, first: keys.length, userIds: distinct });
    for (const userId of distinct) keys.push(registerKey(cohortId, userId));
  });
  return { keys, cohorts };
}

function sortedDistinct(ids: string[]): string[] {
  ids.sort();
  let kept = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i === 0 || ids[i] !== ids[kept - 1]) ids[kept++] = ids[i] as string;
  }
  ids.length = kept;
  return ids;
}

/**
 * Decides a group given the values read for `group.keys` (undefined or null: not stored) and
 * returns the entries to write, in the keys' order: each count that moved (or is missing), then
 * every register a batch won (the last win per user).
 */
export function decideKvGroup<V>(
  batches: CohortBatch[],
  group: KvGroup,
  values: readonly (V | undefined | null)[],
  codec: RegisterCodec<V>,
): [key: string, value: V][] {
  const state = new Map<string, { stored: Map<string, V>; won: Map<string, Register>; delta: number }>();
  for (const part of group.cohorts.values()) {
    const stored = new Map<string, V>();
    part.userIds.forEach((userId, index) => {
      const value = values[part.first + index];
      if (value !== undefined && value !== null) stored.set(userId, value);
    });
    state.set(part.cohortId, { stored, won: new Map(), delta: 0 });
  }
  for (const batch of batches) {
    const cohort = state.get(batch.cohortId);
    if (cohort === undefined) throw new Error(`cohort ${batch.cohortId} is not in the group's plan`);
    const { stored, won } = cohort;
    const { writes, memberDelta } = decideBatch(batch, (userId) => {
      const winner = won.get(userId);
      if (winner !== undefined) return winner;
      const value = stored.get(userId);
      return value === undefined ? undefined : codec.decode(value);
    });
    for (const { userId, register } of writes) won.set(userId, register);
    cohort.delta += memberDelta;
  }
  const entries: [string, V][] = [];
  for (const part of group.cohorts.values()) {
    const { delta } = state.get(part.cohortId) as { delta: number };
    const before = values[part.countAt];
    if (delta !== 0 || before === undefined || before === null) {
      const count = (before === undefined || before === null ? 0 : codec.decodeCount(before)) + delta;
      entries.push([group.keys[part.countAt] as string, codec.encodeCount(count)]);
    }
  }
  for (const part of group.cohorts.values()) {
    const { won } = state.get(part.cohortId) as { won: Map<string, Register> };
    part.userIds.forEach((userId, index) => {
      const register = won.get(userId);
      if (register !== undefined)
        entries.push([group.keys[part.first + index] as string, codec.encode(register)]);
    });
  }
  return entries;
}
