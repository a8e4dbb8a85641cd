/**
 * @module A MembershipStore in Postgres, shared by any number of workers and readers: each batch is
 * one transaction of two statements — lock the cohort's summary row, then one statement that reads,
 * writes and compares every user of the batch, applying the last-writer-wins rule in SQL, and
 * returns the effective changes. Schema:
 * `postgres-schema.ts`.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import type { CohortBatch, CohortUser } from '../batch.ts';
import { migrate, schemaNameFor } from './postgres-schema.ts';
import {
  assertPageLimit,
  batchChange,
  decodeMemberCursor,
  encodeMemberCursor,
  restatedChange,
  toPropertiesJson,
} from './register.ts';
import type { CohortSummary, Member, MembershipChange, MembershipStore, UserCohort } from './store.ts';

export interface PostgresStoreOptions {
  /** A `postgres://` URL. */
  connectionString: string;
  /** KEY_PREFIX: the tables live in the schema it names (see `schemaNameFor`). */
  keyPrefix: string;
  /** Connections in the pool. @default 4 */
  maxConnections?: number;
  /** How long opening a connection may take before an operation fails. @default 5000 */
  connectTimeoutMs?: number;
  /**
   * How long one statement may run (or wait for a lock) before it fails, on the server and, should
   * the server stop answering, in the client. A retry is harmless: applying is idempotent.
   * @default 30000
   */
  statementTimeoutMs?: number;
}

/** What applying a batch did to one user, as the apply statement spells it. */
type Outcome = 'E' | 'L' | 'U' | 'W' | 'S';
/** [position in the deduplicated users, outcome, then the register that held for a stale user]. */
type OutcomeRow = [
  ord: string,
  outcome: Outcome,
  heldIn: boolean | null,
  heldTime: string | null,
  heldMessageId: string | null,
  heldProperties: string | null,
];

const KIND_BY_OUTCOME: Partial<Record<Outcome, MembershipChange['kind']>> = {
  E: 'entered',
  L: 'left',
  U: 'updated',
};

/**
 * Creates the store and, in the background, its schema. Every operation first makes sure the schema
 * exists (retrying the migration after a failure), so the store can be created while Postgres is
 * down and starts working once it answers. Failures reject with an error naming the server.
 */
export function createPostgresStore(options: PostgresStoreOptions): MembershipStore {
  const {
    connectionString,
    keyPrefix,
    maxConnections = 4,
    connectTimeoutMs = 5000,
    statementTimeoutMs = 30_000,
  } = options;
  const schema = schemaNameFor(keyPrefix);
  const sql = statements(schema);
  const pool = new pg.Pool({
    connectionString: withUserName(connectionString),
    max: maxConnections,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1000,
    application_name: `${keyPrefix}:store`,
  });
  // An idle connection that breaks emits here; the pool drops it and the next query opens another.
  pool.on('error', () => {});
  const server = describePostgresUrl(connectionString);

  let schemaReady: Promise<void> | undefined;
  const ensureSchema = () => {
    schemaReady ??= migrate(pool, schema).catch((error: unknown) => {
      schemaReady = undefined;
      throw error;
    });
    return schemaReady;
  };
  ensureSchema().catch(() => {}); // at start; an operation retries it and reports the failure

  const run = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      await ensureSchema();
      return await work();
    } catch (error) {
      throw new Error(`Postgres store at ${server} could not ${what}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };

  const inTransaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      // A connection that cannot even roll back is broken: destroy it rather than reuse it.
      client.release(!rolledBack);
      throw error;
    }
  };

  let closed = false;
  return {
    async applyBatch(batch, { restate = false } = {}) {
      assertNoNul(batch);
      const users = firstListings(batch.users);
      const { cohortId, cohortName, inCohort, computedTime, messageId } = batch;
      const rows = await run('apply a batch', () =>
        inTransaction(async (client) => {
          // Locks the cohort's row: batches of one cohort apply one after another, each seeing the last.
          await client.query({ name: sql.names.upsertCohort, text: sql.upsertCohort }, [
            cohortId,
            cohortName,
            computedTime,
            messageId,
          ]);
          const result = await client.query<OutcomeRow>({
            name: sql.names.applyUsers,
            text: sql.applyUsers,
            rowMode: 'array',
            values: [
              cohortId,
              inCohort,
              computedTime,
              messageId,
              users.map((user) => user.userId),
              users.map((user) => toPropertiesJson(user.properties)),
              restate,
            ],
          });
          return result.rows;
        }),
      );
      return changesFrom(batch, users, rows);
    },

    async listCohorts() {
      const { rows } = await run('list cohorts', () =>
        pool.query<[string, string, string, string]>({ text: sql.listCohorts, rowMode: 'array' }),
      );
      return rows.map(
        ([cohortId, cohortName, members, updatedAt]): CohortSummary => ({
          cohortId,
          cohortName,
          members: Number(members),
          updatedAt: Number(updatedAt),
        }),
      );
    },

    async listMembers(cohortId, { limit, cursor }) {
      assertPageLimit(limit);
      // One row more than asked says whether another page follows.
      const { rows } = await run('list members', () =>
        pool.query<[string, string, string | null]>(
          cursor === undefined
            ? {
                name: sql.names.listFirstMembers,
                text: sql.listFirstMembers,
                rowMode: 'array',
                values: [cohortId, limit + 1],
              }
            : {
                name: sql.names.listMembersAfter,
                text: sql.listMembersAfter,
                rowMode: 'array',
                values: [cohortId, decodeMemberCursor(cursor), limit + 1],
              },
        ),
      );
      const members: Member[] = rows.slice(0, limit).map(([userId, since, properties]) => ({
        userId,
        since: Number(since),
        properties: properties === null ? null : (JSON.parse(properties) as Record<string, unknown>),
      }));
      const last = members.at(-1);
      return { members, nextCursor: rows.length > limit && last ? encodeMemberCursor(last.userId) : null };
    },

    async userCohorts(userId) {
      const { rows } = await run('list the cohorts of a user', () =>
        pool.query<[string, string, string]>({
          name: sql.names.userCohorts,
          text: sql.userCohorts,
          rowMode: 'array',
          values: [userId],
        }),
      );
      return rows.map(
        ([cohortId, cohortName, since]): UserCohort => ({ cohortId, cohortName, since: Number(since) }),
      );
    },

    async check() {
      await run('answer SELECT 1', () => pool.query('SELECT 1'));
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** The SQL of every statement, with the schema's tables, and the names they are prepared under. */
function statements(schema: string) {
  const memberships = `"${schema}".memberships`;
  const cohorts = `"${schema}".cohorts`;
  const memberColumns = `SELECT user_id, computed_time, properties FROM ${memberships}`;
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
    listCohorts: `SELECT cohort_id, cohort_name, members, updated_at FROM ${cohorts} ORDER BY cohort_id`,
    // Two statements rather than `($2 IS NULL OR user_id > $2)`, which a generic plan cannot turn
    // into a primary key range: a page after a cursor starts in the index at (cohort_id, cursor).
    listFirstMembers: `${memberColumns} WHERE cohort_id = $1 AND in_cohort ORDER BY user_id LIMIT $2`,
    listMembersAfter: `${memberColumns} WHERE cohort_id = $1 AND in_cohort AND user_id > $2 ORDER BY user_id LIMIT $3`,
    userCohorts: `
SELECT m.cohort_id, c.cohort_name, m.computed_time FROM ${memberships} AS m
JOIN ${cohorts} AS c ON c.cohort_id = m.cohort_id
WHERE m.user_id = $1 AND m.in_cohort ORDER BY m.cohort_id`,
  };
}

/**
 * One statement for all the users of a batch (each listed once). `listed` reads each user's register
 * as it was before the statement (one primary key probe per user, whatever the table's statistics
 * say: every part of the statement sees the same snapshot) and decides whether the batch's
 * (computed_time, message_id) wins; `inserted` writes the users never seen, `updated` the winners
 * over an older register; `outcomes` names each user's outcome — E entered, L left, U updated,
 * W written without effective change, S stale (not written) — and `counted` moves the member count.
 *
 * Deciding from `listed` is exact because the caller holds the cohort's row lock: no other batch of
 * this cohort writes between the snapshot and the writes. The split insert and update replace the
 * usual `INSERT … ON CONFLICT DO UPDATE … WHERE (excluded.computed_time, excluded.message_id) > …`:
 * the same rule sits in the update's WHERE, a register can still never go back, a broken lock would
 * fail loudly (a duplicate key) rather than report wrong changes, and it measured 15-20% faster
 * (no speculative insertion, one primary key probe less per new user).
 *
 * $1 cohort_id, $2 in_cohort, $3 computed_time, $4 message_id, $5 user ids (text[]), $6 their
 * properties JSON (text[], NULL for none), $7 restate: also answer W and S rows.
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
      WHEN NOT wins THEN 'S'
      WHEN held_in IS NOT TRUE THEN CASE WHEN $2::boolean THEN 'E' ELSE 'W' END
      WHEN NOT $2::boolean THEN 'L'
      WHEN held_properties IS NOT DISTINCT FROM properties THEN 'W'
      ELSE 'U'
    END AS outcome
  FROM listed
),
counted AS (
  UPDATE ${cohorts} SET members = members
    + (SELECT count(*) FILTER (WHERE outcome = 'E') - count(*) FILTER (WHERE outcome = 'L') FROM outcomes)
  WHERE cohort_id = $1::text
)
SELECT ord, outcome, held_in, held_time, held_message_id, held_properties FROM outcomes
WHERE outcome IN ('E', 'L', 'U') OR $7::boolean
ORDER BY ord`;
}

/**
 * Postgres text cannot hold U+0000 (JSON allows `\u0000` in an id). Say so plainly, before the
 * server's "invalid byte sequence" does: the batch then fails every attempt and becomes a dead letter.
 * Properties are safe: `JSON.stringify` writes the character as the six characters `\u0000`.
 */
function assertNoNul(batch: CohortBatch): void {
  const ids = [batch.cohortId, batch.cohortName, batch.messageId, ...batch.users.map((user) => user.userId)];
  const bad = ids.find((id) => id.includes('\u0000'));
  if (bad !== undefined) {
    throw new RangeError(`Postgres cannot store the NUL character (U+0000), found in ${JSON.stringify(bad)}`);
  }
}

/**
 * Each user's first listing, in order. A later listing of the same user is the same message again,
 * a no-op, and ON CONFLICT cannot touch one row twice in a statement.
 */
function firstListings(users: CohortUser[]): CohortUser[] {
  const seen = new Set<string>();
  const first: CohortUser[] = [];
  for (const user of users) {
    if (seen.has(user.userId)) continue;
    seen.add(user.userId);
    first.push(user);
  }
  return first;
}

/** The changes, in batch order: the effective ones, and with restate the state held for the rest. */
function changesFrom(batch: CohortBatch, users: CohortUser[], rows: OutcomeRow[]): MembershipChange[] {
  return rows.map(([ord, outcome, heldIn, heldTime, heldMessageId, heldProperties]) => {
    // biome-ignore lint/style/noNonNullAssertion: ord is a 1-based position in `users`.
    const user = users[Number(ord) - 1]!;
    if (outcome !== 'S') return batchChange(batch, user, KIND_BY_OUTCOME[outcome]);
    return restatedChange(batch, user.userId, {
      inCohort: heldIn === true,
      computedTime: Number(heldTime),
      messageId: heldMessageId as string,
      propertiesJson: heldProperties ?? null,
    });
  });
}

/**
 * `connectionString`, naming the operating system's user when neither it nor PGUSER / USER (which pg
 * reads) names one — as libpq and psql do — so `postgres://host/db` works where USER is unset
 * (containers, services) instead of failing with "no PostgreSQL user name specified".
 */
function withUserName(connectionString: string): string {
  // Constructing a client resolves its parameters without connecting.
  if (new pg.Client({ connectionString }).user) return connectionString;
  try {
    const url = new URL(connectionString);
    url.username = encodeURIComponent(userInfo().username);
    return url.href;
  } catch {
    return connectionString; // not a URL pg can log in with anyway: let pg report it
  }
}

/** The URL without credentials, to name the server in errors. */
function describePostgresUrl(url: string): string {
  try {
    const { protocol, host, pathname } = new URL(url);
    return `${protocol}//${host}${pathname}`;
  } catch {
    return 'the configured DATABASE_URL';
  }
}
