/**
 * @module The SQL of the Postgres store (tables: `postgres-schema.ts`), each statement with the name
 * it is prepared under. Identifiers are the schema's, quoted; every value is a parameter.
 */
import type { WriteOutcome } from '../core/store/register.ts';

/**
 * One row the apply statement answers: a user's position in the deduplicated users, what writing
 * the batch did to them (a {@link WriteOutcome} name), and for a stale user the register that held.
 */
export type OutcomeRow = [
  ord: string,
  outcome: WriteOutcome,
  heldIn: boolean | null,
  heldTime: string | null,
  heldMessageId: string | null,
  heldProperties: string | null,
];

/** The rows the read statements answer (bigints come back as decimal text). */
export type CohortRow = [cohortId: string, cohortName: string, members: string, updatedAt: string];
export type UserCohortRow = [cohortId: string, cohortName: string, since: string];

export type PostgresStatements = ReturnType<typeof postgresStatements>;

/** The SQL of every statement, with the schema's tables, and the names they are prepared under. */
export function postgresStatements(schema: string) {
  const memberships = `"${schema}".memberships`;
  const cohorts = `"${schema}".cohorts`;
  const memberColumns = `SELECT user_id, computed_time, properties, message_id FROM ${memberships}`;
  const newerName = `(excluded.name_computed_time, excluded.name_message_id) > (c.name_computed_time, c.name_message_id)`;
  return {
    names: {
      upsertCohort: `${schema}.upsert_cohort`,
      applyUsers: `${schema}.apply_users`,
      listFirstMembers: `${schema}.list_first_members`,
      listMembersAfter: `${schema}.list_members_after`,
      userCohorts: `${schema}.user_cohorts`,
    },
    upsertCohort: `
INSERT INTO ${cohorts} AS c (cohort_id, cohort_name, name_computed_time, name_message_id, members, updated_at)
VALUES ($1, $2, $3, $4, 0, $3)
ON CONFLICT (cohort_id) DO UPDATE SET
  cohort_name = CASE WHEN ${newerName} THEN excluded.cohort_name ELSE c.cohort_name END,
  name_computed_time = CASE WHEN ${newerName} THEN excluded.name_computed_time ELSE c.name_computed_time END,
  name_message_id = CASE WHEN ${newerName} THEN excluded.name_message_id ELSE c.name_message_id END,
  updated_at = greatest(c.updated_at, excluded.updated_at)`,
    applyUsers: applyUsersStatement(memberships, cohorts),
    // The summary row first: deleting it takes the lock an apply of this cohort takes first.
    removeCohortRow: `DELETE FROM ${cohorts} WHERE cohort_id = $1`,
    removeMemberships: `DELETE FROM ${memberships} WHERE cohort_id = $1`,
    listCohorts: `SELECT cohort_id, cohort_name, members, updated_at FROM ${cohorts} ORDER BY cohort_id`,
    // Two statements rather than `($2 IS NULL OR user_id > $2)`, which a generic plan cannot turn
    // into a primary key range: a page after a cursor starts in the index at (cohort_id, cursor).
    listFirstMembers: `${memberColumns} WHERE cohort_id = $1 AND in_cohort ORDER BY user_id LIMIT $2`,
    listMembersAfter: `${memberColumns} WHERE cohort_id = $1 AND in_cohort AND user_id > $2 ORDER BY user_id LIMIT $3`,
    // One primary-key lookup per cohort: there is no index by user (postgres-schema.ts).
    userCohorts: `
SELECT c.cohort_id, c.cohort_name, m.computed_time FROM ${cohorts} AS c
CROSS JOIN LATERAL (
  SELECT computed_time FROM ${memberships} WHERE cohort_id = c.cohort_id AND user_id = $1 AND in_cohort
) AS m
ORDER BY c.cohort_id`,
  };
}

/**
 * One statement for all the users of a batch (each listed once). `listed` reads each user's register
 * as it was before the statement (one primary key probe per user, whatever the table's statistics
 * say: every part of the statement sees the same snapshot) and decides whether the batch's
 * (computed_time, message_id) wins; `inserted` writes the users never seen, `updated` the winners
 * over an older register; `outcomes` names each user's {@link WriteOutcome} — entered, left,
 * updated, unchanged (written without effective change), stale (not written) — and `counted` moves
 * the member count.
 *
 * Deciding from `listed` is exact because the caller holds the cohort's row lock: no other batch of
 * this cohort writes between the snapshot and the writes. The split insert and update replace the
 * usual `INSERT … ON CONFLICT DO UPDATE … WHERE (excluded.computed_time, excluded.message_id) > …`:
 * the same rule sits in the update's WHERE, a register can still never go back, a broken lock would
 * fail loudly (a duplicate key) rather than report wrong changes, and it is faster (no speculative
 * insertion, one primary key probe less per new user).
 *
 * $1 cohort_id, $2 in_cohort, $3 computed_time, $4 message_id, $5 user ids (text[]), $6 their
 * properties JSON (text[], NULL for none), $7 restate: also answer the unchanged and stale rows.
 */
function applyUsersStatement(memberships: string, cohorts: string): string {
  return `
WITH listed AS (
  SELECT l.ord, l.user_id COLLATE "C" AS user_id, l.properties COLLATE "C" AS properties,
    m.in_cohort AS held_in, m.computed_time AS held_time, m.message_id AS held_message_id,
    m.properties AS held_properties,
    m.user_id IS NULL OR ($3::bigint, $4::text COLLATE "C") > (m.computed_time, m.message_id) AS wins
  FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS l (user_id, properties, ord)
  LEFT JOIN LATERAL (
    SELECT * FROM ${memberships} WHERE cohort_id = $1::text AND user_id = l.user_id COLLATE "C"
    LIMIT 1 -- at most one row anyway (the primary key); it keeps the plan one index probe per user
  ) AS m ON true
),
inserted AS (
  INSERT INTO ${memberships} (cohort_id, user_id, in_cohort, computed_time, message_id, properties)
  SELECT $1::text, user_id, $2::boolean, $3::bigint, $4::text, properties FROM listed WHERE held_in IS NULL
),
updated AS (
  UPDATE ${memberships} AS m
  SET in_cohort = $2::boolean, computed_time = $3::bigint, message_id = $4::text, properties = listed.properties
  FROM listed
  WHERE listed.wins AND listed.held_in IS NOT NULL AND m.cohort_id = $1::text AND m.user_id = listed.user_id
    AND ($3::bigint, $4::text COLLATE "C") > (m.computed_time, m.message_id)
),
outcomes AS (
  SELECT ord, held_in, held_time, held_message_id, held_properties,
    CASE
      WHEN NOT wins THEN 'stale'
      WHEN held_in IS NOT TRUE THEN CASE WHEN $2::boolean THEN 'entered' ELSE 'unchanged' END
      WHEN NOT $2::boolean THEN 'left'
      WHEN held_properties IS NOT DISTINCT FROM properties THEN 'unchanged'
      ELSE 'updated'
    END AS outcome
  FROM listed
),
counted AS (
  UPDATE ${cohorts} SET members = members
    + (SELECT count(*) FILTER (WHERE outcome = 'entered') - count(*) FILTER (WHERE outcome = 'left') FROM outcomes)
  WHERE cohort_id = $1::text
)
SELECT ord, outcome, held_in, held_time, held_message_id, held_properties FROM outcomes
WHERE outcome IN ('entered', 'left', 'updated') OR $7::boolean
ORDER BY ord`;
}
