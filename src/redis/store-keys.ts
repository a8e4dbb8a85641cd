/**
 * @module Every Redis key the Redis MembershipStore uses, built in this one place. They all live
 * under `<KEY_PREFIX>:store:` so the store can share a Redis (and a prefix) with the Redis queue.
 *
 * Ids are appended raw after a fixed segment, so two kinds of key can never collide: the segment
 * before the id (`cohort:`, `members:`, …) tells them apart, and KEY_PREFIX holds no `:`.
 */

/** The store's key names under one prefix. */
export interface StoreKeys {
  /** ZSET, every score 0: the id of every cohort ever applied, so listing them comes in byte order. */
  cohorts: string;
  /**
   * HASH `name`, `name_time`, `name_message` (the version the name came from: the newest wins) and
   * `updated_at` (the latest computedTime applied).
   */
  cohort(cohortId: string): string;
  /** Prefix of {@link StoreKeys.cohort}, for scripts that visit many cohorts. */
  cohortPrefix: string;
  /** HASH user id -> register (tombstones included), in the format `lua/register-format.ts` describes. */
  registers(cohortId: string): string;
  /**
   * ZSET, every score 0: the cohort's current members, so `ZRANGE … BYLEX` pages through them in
   * byte order from a cursor, and `ZCARD` is the member count.
   */
  members(cohortId: string): string;
  /** Prefix of {@link StoreKeys.members}. */
  membersPrefix: string;
  /**
   * ZSET, every score 0: one member per (user, cohort) the user is in now, spelled
   * `<user id byte length>:<user id><cohort id>` (`lua/register-format.ts`), so one `ZRANGE … BYLEX`
   * over a user's prefix answers /users/:id/cohorts in cohort id order, and a batch updates it with one
   * ZADD and one ZREM rather than one command per user.
   */
  userCohorts: string;
  /** Prefix of {@link StoreKeys.registers}, for scripts that visit many cohorts. */
  registersPrefix: string;
  /** A SCAN pattern matching every key above (and nothing else), for clean-up. */
  pattern: string;
}

/** Builds the store's key names under `keyPrefix` (KEY_PREFIX: lowercase letters, digits, `_`, `-`). */
export function storeKeys(keyPrefix: string): StoreKeys {
  const root = `${keyPrefix}:store:`;
  const cohortPrefix = `${root}cohort:`;
  const registersPrefix = `${root}registers:`;
  const membersPrefix = `${root}members:`;
  return {
    cohorts: `${root}cohorts`,
    cohort: (cohortId) => cohortPrefix + cohortId,
    cohortPrefix,
    registers: (cohortId) => registersPrefix + cohortId,
    members: (cohortId) => membersPrefix + cohortId,
    membersPrefix,
    userCohorts: `${root}user-cohorts`,
    registersPrefix,
    pattern: `${root}*`,
  };
}
