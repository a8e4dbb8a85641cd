/**
 * @module What a bench run leaves behind in shared services: every Redis key under the run's own
 * KEY_PREFIX (a receiver-only run can leave gigabytes of accepted batches there) and the Postgres
 * schema that KEY_PREFIX names. Files live in the run's temporary folder and go with it.
 */
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { schemaNameFor } from '../src/postgres/schema.ts';

/** Unlinks every key starting with `<prefix>:`; resolves with how many were removed. */
export async function removeRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let removed = 0;
    const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) removed += await redis.unlink(...keys);
    }
    return removed;
  } finally {
    redis.disconnect();
  }
}

/** Whether the Postgres schema `keyPrefix` names exists yet. */
export function postgresSchemaExists(databaseUrl: string, keyPrefix: string): Promise<boolean> {
  return withClient(databaseUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
      schemaNameFor(keyPrefix),
    ]);
    return rowCount === 1;
  });
}

/** Drops the Postgres schema `keyPrefix` names, with its tables; resolves with its name. */
export function dropPostgresSchema(databaseUrl: string, keyPrefix: string): Promise<string> {
  return withClient(databaseUrl, async (client) => {
    const schema = schemaNameFor(keyPrefix);
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    return schema;
  });
}

async function withClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: withUserName(databaseUrl),
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A URL naming no user logs in as the operating system's user, as the receiver and psql do. */
function withUserName(databaseUrl: string): string {
  if (new pg.Client({ connectionString: databaseUrl }).user) return databaseUrl;
  try {
    const url = new URL(databaseUrl);
    url.username = encodeURIComponent(userInfo().username);
    return url.href;
  } catch {
    return databaseUrl;
  }
}
