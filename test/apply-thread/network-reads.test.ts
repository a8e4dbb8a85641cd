/**
 * With STORE=postgres and the apply thread, the read API reads on the event loop's own client: a
 * read answers while every connection of the thread's pool waits behind a lock its applies need.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { createThreadedApplier } from '../../src/apply-thread/threaded-applier.ts';
import { type Backends, loadConfig, openBackends } from '../../src/compose.ts';
import type { CohortBatch } from '../../src/core/batch.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { schemaNameFor } from '../../src/postgres/schema.ts';
import { cohortBatch, queued, usersOf } from '../support/cohort-batch.ts';
import { databaseUrl, describeWithService, postgresConnection } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

await describeWithService('postgres', 'Postgres reads beside the apply thread', () => {
  let admin: pg.Pool;
  let dir: TempDir;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(() => {
    admin = new pg.Pool({ ...postgresConnection(), max: 3 });
    return () => admin.end();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("answers a user's cohorts while the thread's whole pool waits for a lock", async () => {
    dir = await createTempDir('network-reads');
    cleanups.push(() => dir.remove());
    const keyPrefix = `test-reads-${randomBytes(4).toString('hex')}`;
    const schema = schemaNameFor(keyPrefix);
    cleanups.push(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    });
    const backends: Backends = await openBackends(
      loadConfig({
        STORE: 'postgres',
        DATABASE_URL: databaseUrl,
        KEY_PREFIX: keyPrefix,
        SQLITE_PATH: join(dir.path, 'cohorts.db'),
        SINKS: 'none',
      }),
      pino({ level: 'silent' }),
    );
    // As the receiver does with APPLY_THREAD=on: applies on the thread's own pool, reads here.
    const threaded = createThreadedApplier(backends.storeRecipe);
    let closed = false;
    cleanups.push(async () => {
      if (closed) return;
      await threaded.close();
      await backends.close();
    });
    const store = backends.store as MembershipStore;
    const apply = (batch: CohortBatch) => threaded.apply(queued(batch), { restate: false });
    await apply(cohortBatch({ cohortId: 'c1', messageId: 'm0', users: usersOf('u1') }));

    // Another session holds the cohort's row, which every apply of c1 locks first.
    const locker = await admin.connect();
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await locker.query('ROLLBACK');
      locker.release();
    };
    cleanups.push(release);
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM "${schema}".cohorts WHERE cohort_id = 'c1' FOR UPDATE`);
    const applying = Array.from({ length: 6 }, (_, index) =>
      apply(
        cohortBatch({
          cohortId: 'c1',
          computedTime: 10 + index,
          messageId: `m${index + 1}`,
          users: usersOf(`v${index}`),
        }),
      ),
    );
    // The thread's pool holds 4 connections: wait until all of them wait on the lock.
    for (;;) {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity
         WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [`${keyPrefix}:store`],
      );
      if (rows[0].waiting >= 4) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Through the thread this read would wait for a free connection, that is for the lock.
    const cohorts = await store.userCohorts('u1');
    expect(cohorts.map((membership) => membership.cohortId)).toEqual(['c1']);
    const stillApplying = await Promise.race([
      Promise.all(applying).then(() => false),
      new Promise((resolve) => setImmediate(() => resolve(true))),
    ]);
    expect(stillApplying).toBe(true);

    await release();
    const changes = await Promise.all(applying);
    expect(changes.map((applied) => applied.changes.map((change) => change.userId))).toEqual(
      Array.from({ length: 6 }, (_, index) => [`v${index}`]),
    );
    closed = true;
    await threaded.close();
    await backends.close();
  }, 30_000);
});
