/**
 * @module The Postgres store's schema: one Postgres schema per KEY_PREFIX holding its tables, and
 * the migrations that create them, applied at start under an advisory lock so several workers
 * starting at once do not race.
 */
import type { Pool } from 'pg';
import { inTransaction } from './pool.ts';

/**
 * The Postgres schema a KEY_PREFIX maps to: `-` becomes `_` (`cohort-receiver` -> `cohort_receiver`),
 * so tenants and test runs sharing one database never share a table.
 * @throws RangeError when the result is not a plain lowercase identifier of at most 63 bytes.
 */
export function schemaNameFor(keyPrefix: string): string {
  const schema = keyPrefix.replaceAll('-', '_');
  // Postgres keeps names starting with `pg_` for itself: CREATE SCHEMA would refuse every batch.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema.startsWith('pg_')) {
    throw new RangeError(
      `Expected \`keyPrefix\` to map to a Postgres schema name (lowercase letters, digits, "_" or "-", at most 63, not starting with "pg-" or "pg_"), got \`${keyPrefix}\``,
    );
  }
  return schema;
}

/**
 * Text keys use `COLLATE "C"`, which compares UTF-8 bytes, i.e. code points: the order
 * `compareCodePoints` in `register.ts` gives, SQLite's BINARY and Redis' BYLEX. So the
 * last-writer-wins comparison of message ids, member pagination and listing order agree with the
 * other stores for any text, whatever the database's default collation.
 *
 * Each entry is applied once, in order, and recorded in `schema_migrations`.
 */
function migrations(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `
CREATE TABLE ${s}.memberships (
  cohort_id     text COLLATE "C" NOT NULL,
  user_id       text COLLATE "C" NOT NULL,
  in_cohort     boolean NOT NULL, -- false: a tombstone, kept so an older add cannot win
  computed_time bigint  NOT NULL,
  message_id    text COLLATE "C" NOT NULL,
  properties    text COLLATE "C", -- the winning message's user_properties, JSON.stringify'd; compared as text
  PRIMARY KEY (cohort_id, user_id) -- also serves GET /cohorts/:id/members, in user_id order
) WITH (fillfactor = 90); -- room on each page for HOT updates when only the version moves

-- GET /users/:id/cohorts, an equality lookup (its few rows are then sorted by cohort_id). A hash index
-- holds 4-byte hashes, not the ids, so batch applies maintain it faster than a B-tree on user_id.
CREATE INDEX memberships_by_user ON ${s}.memberships USING hash (user_id) WHERE in_cohort;

CREATE TABLE ${s}.cohorts (
  cohort_id          text COLLATE "C" PRIMARY KEY,
  cohort_name        text   NOT NULL, -- from the newest batch: (name_computed_time, name_message_id)
  name_computed_time bigint NOT NULL,
  name_message_id    text COLLATE "C" NOT NULL,
  members            bigint NOT NULL, -- moved by each batch's entered minus left
  updated_at         bigint NOT NULL  -- the latest computed_time applied
);`,
    // No by-user index: with random user ids each insert wrote a random page of it too. A user's
    // cohorts are one primary-key lookup per cohort instead, and cohorts are few (docs/performance.md).
    `DROP INDEX IF EXISTS ${s}.memberships_by_user;`,
  ];
}

/** Creates the schema and applies the migrations it lacks, in one transaction. */
export async function migrate(pool: Pool, schema: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    // Held until COMMIT: a second process starting now waits here, then finds everything applied.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cohort-receiver migrate ${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations`,
    );
    const applied = new Set(rows.map((row) => row.version));
    for (const [index, sql] of migrations(schema).entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      await client.query(sql);
      await client.query(`INSERT INTO "${schema}".schema_migrations (version) VALUES ($1)`, [version]);
    }
  });
}
