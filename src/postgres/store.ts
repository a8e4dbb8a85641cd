/**
 * @module A MembershipStore in Postgres, shared by any number of workers and readers: each batch is
 * one transaction of two statements — lock the cohort's summary row, then one statement that reads,
 * writes and compares every user of the batch, applying the last-writer-wins rule in SQL, and
 * returns the effective changes. Tables: `postgres-schema.ts`; SQL: `postgres-statements.ts`.
 */
import type pg from 'pg';
import type { CohortBatch, CohortUser } from '../core/batch.ts';
import { StoreUnavailableError } from '../core/errors.ts';
import { type MemberRow, membersPage, pageRead } from '../core/store/members-page.ts';
import { outcomeChange, toPropertiesJson } from '../core/store/register.ts';
import type { CohortSummary, MembershipChange, MembershipStore, UserCohort } from '../core/store/store.ts';
import { redactUrl } from '../runtime/redact-url.ts';
import { inTransaction, openPostgresPool } from './pool.ts';
import { migrate, schemaNameFor } from './schema.ts';
import { type CohortRow, type OutcomeRow, postgresStatements, type UserCohortRow } from './statements.ts';
import { isPostgresAway } from './unavailable.ts';

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

/**
 * Creates the store and, in the background, its schema. Every operation first makes sure the schema
 * exists (retrying the migration after a failure), so the store can be created while Postgres is
 * down and starts working once it answers. Failures reject with an error naming the server: a
 * StoreUnavailableError while the server is away (down, restarting, unreachable).
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
  const sql = postgresStatements(schema);
  const pool = openPostgresPool({
    connectionString,
    applicationName: `${keyPrefix}:store`,
    maxConnections,
    connectTimeoutMs,
    statementTimeoutMs,
  });
  const server = redactUrl(connectionString, 'the configured DATABASE_URL');

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
      const message = `Postgres store at ${server} could not ${what}: ${(error as Error).message}`;
      if (isPostgresAway(error)) throw new StoreUnavailableError(message, { cause: error });
      throw new Error(message, { cause: error });
    }
  };

  /** Runs one prepared statement, rows as arrays. */
  const query = <Row extends unknown[]>(
    client: pg.Pool | pg.PoolClient,
    name: keyof typeof sql.names,
    values: unknown[],
  ) => client.query<Row>({ name: sql.names[name], text: sql[name], rowMode: 'array', values });

  let closed = false;
  return {
    async applyBatch(batch, { restate = false } = {}) {
      assertNoNul(batch);
      const users = firstListings(batch.users);
      const { cohortId, cohortName, inCohort, computedTime, messageId } = batch;
      const rows = await run('apply a batch', () =>
        inTransaction(pool, async (client) => {
          // Locks the cohort's row: batches of one cohort apply one after another, each seeing the last.
          await query(client, 'upsertCohort', [cohortId, cohortName, computedTime, messageId]);
          const result = await query<OutcomeRow>(client, 'applyUsers', [
            cohortId,
            inCohort,
            computedTime,
            messageId,
            users.map((user) => user.userId),
            users.map((user) => toPropertiesJson(user.properties)),
            restate,
          ]);
          return result.rows;
        }),
      );
      return changesFrom(batch, users, rows, restate);
    },

    async listCohorts() {
      const { rows } = await run('list cohorts', () =>
        pool.query<CohortRow>({ text: sql.listCohorts, rowMode: 'array' }),
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

    async listMembers(cohortId, request) {
      const { afterUserId, fetch } = pageRead(request);
      const { rows } = await run('list members', () =>
        afterUserId === undefined
          ? query<MemberRow>(pool, 'listFirstMembers', [cohortId, fetch])
          : query<MemberRow>(pool, 'listMembersAfter', [cohortId, afterUserId, fetch]),
      );
      return membersPage(rows, request.limit);
    },

    async userCohorts(userId) {
      const { rows } = await run('list the cohorts of a user', () =>
        query<UserCohortRow>(pool, 'userCohorts', [userId]),
      );
      return rows.map(
        ([cohortId, cohortName, since]): UserCohort => ({ cohortId, cohortName, since: Number(since) }),
      );
    },

    async removeCohort(cohortId) {
      if (cohortId.includes('\u0000')) return false; // no such id can have been stored
      return run('remove a cohort', () =>
        inTransaction(pool, async (client) => {
          const cohort = await client.query(sql.removeCohortRow, [cohortId]);
          const members = await client.query(sql.removeMemberships, [cohortId]);
          return (cohort.rowCount ?? 0) + (members.rowCount ?? 0) > 0;
        }),
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
 * a no-op, and one statement cannot touch one row twice.
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
function changesFrom(
  batch: CohortBatch,
  users: CohortUser[],
  rows: OutcomeRow[],
  restate: boolean,
): MembershipChange[] {
  const changes: MembershipChange[] = [];
  for (const [ord, outcome, heldIn, heldTime, heldMessageId, heldProperties] of rows) {
    // biome-ignore lint/style/noNonNullAssertion: ord is a 1-based position in `users`.
    const user = users[Number(ord) - 1]!;
    const held =
      outcome === 'stale'
        ? {
            inCohort: heldIn === true,
            computedTime: Number(heldTime),
            messageId: heldMessageId as string,
            propertiesJson: heldProperties ?? null,
          }
        : undefined;
    const change = outcomeChange(batch, user, outcome, restate, held);
    if (change !== undefined) changes.push(change);
  }
  return changes;
}
