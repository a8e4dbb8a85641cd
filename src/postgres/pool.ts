/**
 * @module The Postgres store's connection pool: how it logs in and how long it waits, and the one
 * way it runs a transaction.
 */
import { userInfo } from 'node:os';
import pg from 'pg';

export interface PostgresPoolOptions {
  /** A `postgres://` URL. */
  connectionString: string;
  /** `application_name`, to tell the store's connections apart in `pg_stat_activity`. */
  applicationName: string;
  maxConnections: number;
  /** How long opening a connection may take before an operation fails. */
  connectTimeoutMs: number;
  /** How long one statement may run (or wait for a lock), on the server and, should it stop answering, in the client. */
  statementTimeoutMs: number;
}

export function openPostgresPool(options: PostgresPoolOptions): pg.Pool {
  const { connectionString, applicationName, maxConnections, connectTimeoutMs, statementTimeoutMs } = options;
  const pool = new pg.Pool({
    connectionString: withUserName(connectionString),
    max: maxConnections,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1000,
    application_name: applicationName,
  });
  // An idle connection that breaks emits here; the pool drops it and the next query opens another.
  pool.on('error', () => {});
  return pool;
}

/** Runs `work` in a transaction on one connection of `pool`: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has none of the pool's listeners: the server going away (a restart) emits
  // 'error' on it, unheard, which would crash the process or the apply thread. The statement fails anyway.
  const ignoreError = () => {};
  client.on('error', ignoreError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.off('error', ignoreError);
    client.release();
    return result;
  } catch (error) {
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    // A connection that cannot even roll back is broken: destroy it rather than reuse it.
    client.off('error', ignoreError);
    client.release(!rolledBack);
    throw error;
  }
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
