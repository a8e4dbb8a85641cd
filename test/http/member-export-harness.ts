/**
 * The parts the member-export tests share: each of the four stores opened fresh (a key prefix or
 * schema of its own, removed after), the receiver's app on a given store, the read API alone with a
 * logger and a page size of the test's, a real HTTP server for an app, and a CSV parser strict
 * about line ends.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { parse } from 'csv-parse/sync';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Logger, pino } from 'pino';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createApp } from '../../src/core/http/app.ts';
import type { AppEnv } from '../../src/core/http/app-env.ts';
import { errorAnswer } from '../../src/core/http/error-answer.ts';
import { readApi } from '../../src/core/http/read-api.ts';
import { requestLog } from '../../src/core/http/request-log.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import { createPostgresStore } from '../../src/postgres/store.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { storeKeys } from '../../src/redis/store-keys.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { databaseUrl, postgresConnection, redisUrl } from '../support/services.ts';
import { createTempDir } from '../support/tmp.ts';

export type StoreKind = 'memory' | 'sqlite' | 'redis' | 'postgres';

export interface OpenedStore {
  store: MembershipStore;
  /** Closes the store and removes what it wrote (file, keys, schema). */
  cleanup: () => Promise<void>;
}

const randomPrefix = () => `test-export-${randomBytes(6).toString('hex')}`;

/** A fresh, empty store of `kind`; Redis and Postgres are the shared ones of test/support/services.ts. */
export async function openStore(kind: StoreKind): Promise<OpenedStore> {
  if (kind === 'memory') return { store: createMemoryStore(), cleanup: async () => {} };
  if (kind === 'sqlite') {
    const dir = await createTempDir('export-sqlite');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    const store = createSqliteStore(db);
    return {
      store,
      cleanup: async () => {
        await store.close();
        db.close();
        await dir.remove();
      },
    };
  }
  const keyPrefix = randomPrefix();
  if (kind === 'redis') {
    const store = createRedisStore({ url: redisUrl, keyPrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await removeRedisStoreKeys(keyPrefix);
      },
    };
  }
  const store = createPostgresStore({ connectionString: databaseUrl, keyPrefix });
  return {
    store,
    cleanup: async () => {
      await store.close();
      const admin = new pg.Client(postgresConnection());
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schemaNameFor(keyPrefix)}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** Every key of the Redis store under `keyPrefix` (not a SCAN: the shared Redis may hold millions). */
async function removeRedisStoreKeys(keyPrefix: string, url = redisUrl): Promise<void> {
  const admin = new Redis(url);
  try {
    const keys = storeKeys(keyPrefix);
    const cohortIds = await admin.zrange(keys.cohorts, '0', '-1');
    const perCohort = cohortIds.flatMap((id) => [keys.cohort(id), keys.registers(id), keys.members(id)]);
    await admin.unlink(keys.cohorts, keys.userCohorts, ...perCohort);
  } finally {
    admin.disconnect();
  }
}

/** A logger whose JSON lines land in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** The receiver's app (createApp) on `store`, taking no webhooks: auth, request log and error answers as served. */
export function receiverApp(store: MembershipStore, tokens: string[] = []) {
  const events = createReceiverEvents();
  const { logger, lines } = capturingLogger();
  const app = createApp({
    queue: createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 1000 }),
    store,
    deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
    parseBatch: createBatchParser(),
    events,
    logger,
    auth: { tokens, header: 'authorization' },
  });
  return { app, logLines: lines };
}

/** The read API alone, behind the receiver's request log and error answers, with a logger and page size of the test's. */
export function readApiApp(store: MembershipStore, exportPageSize?: number) {
  const { logger, lines } = capturingLogger();
  const app = new Hono<AppEnv>();
  app.use(requestLog({ logger, events: createReceiverEvents() }));
  app.onError(errorAnswer({ logger }));
  app.route('/', readApi(store, { logger, exportPageSize }));
  return { app, logLines: lines };
}

/** `app` served by @hono/node-server on a free loopback port, as the receiver serves it. */
export async function serve(app: Hono<AppEnv>) {
  const server = createAdaptorServer({ fetch: app.fetch, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type CsvRecord = Record<'user_id' | 'since' | 'user_properties', string>;

/**
 * Parses `text` with csv-parse, every line end (CRLF, LF, CR) ending a record: a CR or LF left
 * unquoted inside a field then splits its record, and the column count check fails. Returns the
 * header and the records.
 */
export function parseCsv(text: string): { header: string[]; records: CsvRecord[] } {
  const rows = parse(text, {
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: false,
  }) as string[][];
  const [header = [], ...data] = rows;
  const records = data.map((row) => {
    if (row.length !== 3) throw new Error(`a record of ${row.length} fields: ${JSON.stringify(row)}`);
    const [user_id = '', since = '', user_properties = ''] = row;
    return { user_id, since, user_properties };
  });
  return { header, records };
}
