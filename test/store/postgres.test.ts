import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { HandBackError } from '../../src/core/queue/hand-over.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import { createPostgresStore } from '../../src/postgres/store.ts';
import { cohortBatch, queued, usersOf } from '../support/cohort-batch.ts';
import { databaseUrl, describeWithService, postgresConnection } from '../support/services.ts';
import { allMembers, describeStoreContract } from './contract.ts';

/** A Postgres that refuses connections: nothing listens on port 1. */
const closedPortUrl = 'postgres://127.0.0.1:1/test';
const randomPrefix = () => `test-store-${randomBytes(6).toString('hex')}`;

await describeWithService('postgres', 'Postgres store', () => {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ ...postgresConnection(), max: 2 });
  });
  afterAll(async () => {
    await admin.end();
  });
  const dropSchema = async (keyPrefix: string) => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schemaNameFor(keyPrefix)}" CASCADE`);
  };

  describeStoreContract('postgres', async () => {
    const keyPrefix = randomPrefix();
    return {
      store: createPostgresStore({ connectionString: databaseUrl, keyPrefix }),
      cleanup: () => dropSchema(keyPrefix),
    };
  });

  const opened: { store: MembershipStore; keyPrefix: string }[] = [];
  const open = (keyPrefix = randomPrefix(), connectionString = databaseUrl) => {
    const store = createPostgresStore({ connectionString, keyPrefix, connectTimeoutMs: 1000 });
    opened.push({ store, keyPrefix });
    return store;
  };
  afterEach(async () => {
    for (const { store, keyPrefix } of opened.splice(0)) {
      await store.close();
      await dropSchema(keyPrefix);
    }
  });

  it('creates its tables in the schema named after KEY_PREFIX, once, even when two processes start together', async () => {
    const keyPrefix = randomPrefix();
    const [first, second] = [open(keyPrefix), open(keyPrefix)];
    await Promise.all([first.check(), second.check()]);
    const { rows } = await admin.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [keyPrefix.replaceAll('-', '_')],
    );
    expect(rows.map((row) => row.table_name)).toEqual(['cohorts', 'memberships', 'schema_migrations']);
    const { rows: versions } = await admin.query(
      `SELECT version FROM "${schemaNameFor(keyPrefix)}".schema_migrations`,
    );
    expect(versions).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('migrates a version-1 schema: drops the by-user index, keeps the registers, reads the same', async () => {
    const keyPrefix = randomPrefix();
    const schema = schemaNameFor(keyPrefix);
    const first = open(keyPrefix);
    await first.applyBatch(cohortBatch({ cohortId: 'c1', cohortName: 'One', users: usersOf('u1', 'u2') }));
    await first.applyBatch(
      cohortBatch({ cohortId: 'c2', cohortName: 'Two', computedTime: 90, users: usersOf('u1') }),
    );
    // Back to version 1, as an older release left it.
    await admin.query(
      `CREATE INDEX memberships_by_user ON "${schema}".memberships USING hash (user_id) WHERE in_cohort`,
    );
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 2`);

    const store = open(keyPrefix);
    expect(await store.userCohorts('u1')).toEqual([
      { cohortId: 'c1', cohortName: 'One', since: 100 },
      { cohortId: 'c2', cohortName: 'Two', since: 90 },
    ]);
    const { rows } = await admin.query(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
      [schema],
    );
    expect(rows.map((row) => row.indexname)).toEqual([
      'cohorts_pkey',
      'memberships_pkey',
      'schema_migrations_pkey',
    ]);
    expect(await allMembers(store, 'c1')).toHaveLength(2);
  });

  it('refuses a KEY_PREFIX that cannot name a schema', () => {
    expect(() => schemaNameFor(`a${'b'.repeat(63)}`)).toThrow(RangeError);
    // Reserved by Postgres: CREATE SCHEMA pg_… fails, so every batch would.
    expect(() => schemaNameFor('pg-tenant')).toThrow(RangeError);
    expect(schemaNameFor('cohort-receiver')).toBe('cohort_receiver');
  });

  it('applies a 10,000-user batch in one statement, listing each user once', async () => {
    const store = open();
    const users = Array.from({ length: 10_000 }, (_, i) => ({
      userId: `user-${String(i).padStart(5, '0')}`,
      properties: { plan: i % 2 ? 'pro' : 'free', quote: 'it\'s "quoted" {a,b} \\ NULL' },
    }));
    const changes = await store.applyBatch(cohortBatch({ users: [...users, ...users.slice(0, 10)] }));
    expect(changes).toHaveLength(10_000);
    expect((await store.listCohorts())[0]?.members).toBe(10_000);
    expect((await store.listMembers('c1', { limit: 1 })).members).toEqual([
      { userId: 'user-00000', since: 100, messageId: expect.any(String), properties: users[0]?.properties },
    ]);
    expect((await allMembers(store, 'c1', 4000)).map((member) => member.userId)).toEqual(
      users.map((user) => user.userId),
    );
  });

  it('refuses an id holding U+0000, which Postgres text cannot store, and writes nothing', async () => {
    const store = open();
    await expect(store.applyBatch(cohortBatch({ users: usersOf('u1', 'nul\u0000inside') }))).rejects.toThrow(
      /Postgres cannot store the NUL character/,
    );
    expect(await store.listCohorts()).toEqual([]);
    const properties = { note: 'nul\u0000inside' };
    await store.applyBatch(cohortBatch({ users: [{ userId: 'u1', properties }] }));
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties },
    ]);
  });

  it('fails applyBatch and check() with an error naming the server when Postgres is unreachable', async () => {
    const store = open(randomPrefix(), closedPortUrl);
    await expect(store.applyBatch(cohortBatch())).rejects.toThrow(
      /Postgres store at postgres:\/\/127\.0\.0\.1:1\/test could not apply a batch: .*ECONNREFUSED/,
    );
    await expect(store.check()).rejects.toThrow(/could not answer SELECT 1: .*ECONNREFUSED/);
    await expect(store.userCohorts('u1')).rejects.toThrow(/could not list the cohorts of a user/);
  });

  it('fails with a StoreUnavailableError while Postgres is unreachable, and a plain Error when it refuses', async () => {
    const away = open(randomPrefix(), closedPortUrl);
    await expect(away.applyBatch(cohortBatch())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(away.listCohorts()).rejects.toBeInstanceOf(StoreUnavailableError);
    // Reachable, but the batch cannot be stored: a refusal, which becomes a dead letter in the end.
    const refused = await open()
      .applyBatch(cohortBatch({ users: usersOf('nul\u0000') }))
      .catch((error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(StoreUnavailableError);
  });

  it('waits while Postgres is unreachable, spending no attempt, and sets nothing aside', async () => {
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
    const decode = createQueuedBodyDecoder();
    const events = createReceiverEvents();
    let retries = 0;
    const stop = new AbortController();
    events.on('storeUnavailable', () => {
      retries += 1;
      // Far more retries than attempts allowed, then a shutdown: the batch goes back to its queue.
      if (retries === 10) stop.abort();
    });
    const applyFromQueue = createWorker({
      apply: storeApplier(open(randomPrefix(), closedPortUrl), decode),
      decode,
      deadLetters,
      events,
      logger: pino({ level: 'silent' }),
      maxAttempts: 3,
      backoffMs: () => 1,
      awayBackoffMs: () => 1,
      stopWaiting: stop.signal,
    });
    const batch = cohortBatch({ messageId: 'm-waits' });
    await expect(
      applyFromQueue(queued(batch), { attempt: 1, acceptedAt: Date.now() }),
    ).rejects.toBeInstanceOf(HandBackError);
    expect(retries).toBe(10);
    expect(await deadLetters.list({ kind: 'failed' })).toEqual([]);
  });

  it('survives the server ending its connection in the middle of a transaction (a restart)', async () => {
    const keyPrefix = randomPrefix();
    const store = open(keyPrefix);
    await store.applyBatch(cohortBatch());
    // Hold the cohort's row, so the next apply waits inside its transaction with its connection checked out.
    const holder = await admin.connect();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM "${schemaNameFor(keyPrefix)}".cohorts FOR UPDATE`);
      const applying = store.applyBatch(cohortBatch({ computedTime: 200 })).catch((error) => error);
      await expect
        .poll(async () => {
          const { rows } = await admin.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [`${keyPrefix}:store`],
          );
          return rows.length;
        })
        .toBe(1);
      // What a fast shutdown does to every session: 57P01, then the connection closes.
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [`${keyPrefix}:store`],
      );
      expect(await applying).toBeInstanceOf(StoreUnavailableError);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect(await store.applyBatch(cohortBatch({ computedTime: 300, users: usersOf('u3') }))).toHaveLength(1);
  });

  it('keeps its state across dropped connections and across closing and reopening', async () => {
    const keyPrefix = randomPrefix();
    const store = open(keyPrefix);
    await store.applyBatch(cohortBatch({ users: [{ userId: 'u1', properties: { plan: 'pro' } }] }));
    await store.applyBatch(cohortBatch({ inCohort: false, computedTime: 200, users: usersOf('u2') }));

    // The server ends every connection of the store (as a Postgres restart would); the pool opens new ones.
    const { rows } = await admin.query<{ ended: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1',
      [`${keyPrefix}:store`],
    );
    expect(rows.length).toBeGreaterThan(0);
    await expect
      .poll(
        () =>
          store.check().then(
            () => 'ready',
            () => 'down',
          ),
        { timeout: 5000 },
      )
      .toBe('ready');
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties: { plan: 'pro' } },
    ]);

    await store.close();
    const reopened = open(keyPrefix);
    expect(await reopened.listCohorts()).toEqual([
      { cohortId: 'c1', cohortName: 'Cohort one', members: 1, updatedAt: 200 },
    ]);
    // The tombstone survived: an older add of u2 still loses.
    expect(await reopened.applyBatch(cohortBatch({ computedTime: 150, users: usersOf('u2') }))).toEqual([]);
  });

  it('applies concurrent batches of one cohort one after another, counting each change once', async () => {
    const keyPrefix = randomPrefix();
    const [store, other] = [open(keyPrefix), open(keyPrefix)];
    const batches = Array.from({ length: 20 }, (_, i) =>
      cohortBatch({ inCohort: i % 3 !== 2, computedTime: 100 + i, users: usersOf('u1', 'u2', `u-${i}`) }),
    );
    const changes = (
      await Promise.all(batches.map((batch, i) => (i % 2 ? store : other).applyBatch(batch)))
    ).flat();
    const members = await allMembers(store, 'c1', 100);
    expect((await store.listCohorts())[0]?.members).toBe(members.length);
    const entered = changes.filter((change) => change.kind === 'entered').length;
    const left = changes.filter((change) => change.kind === 'left').length;
    expect(entered - left).toBe(members.length);
  });
});
