/** A SQLite file written by an older release is brought to the current layout, its data kept. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { allMembers } from './contract.ts';

/** The layout before version 1: the same tables plus a by-user index, user_version 0. */
const VERSION_0 = `
CREATE TABLE cohort_memberships (
  cohort_id TEXT NOT NULL, user_id TEXT NOT NULL, in_cohort INTEGER NOT NULL,
  computed_time NUMERIC NOT NULL, message_id TEXT NOT NULL, properties TEXT,
  PRIMARY KEY (cohort_id, user_id)
) WITHOUT ROWID;
CREATE INDEX cohort_memberships_members_by_user ON cohort_memberships (user_id) WHERE in_cohort = 1;
CREATE TABLE cohort_cohorts (
  cohort_id TEXT NOT NULL PRIMARY KEY, cohort_name TEXT NOT NULL, name_computed_time NUMERIC NOT NULL,
  name_message_id TEXT NOT NULL, members INTEGER NOT NULL, updated_at NUMERIC NOT NULL
) WITHOUT ROWID;
INSERT INTO cohort_memberships VALUES ('c1', 'u1', 1, 100, 'm1', '{"plan":"pro"}'), ('c1', 'u2', 0, 100, 'm1', NULL),
  ('c2', 'u1', 1, 90, 'm0', NULL);
INSERT INTO cohort_cohorts VALUES ('c1', 'One', 100, 'm1', 1, 100), ('c2', 'Two', 90, 'm0', 1, 90);
`;

let dir: TempDir;
afterEach(async () => {
  await dir.remove();
});

const indexes = (db: Database.Database) =>
  db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cohort_memberships' AND sql IS NOT NULL",
    )
    .pluck()
    .all();

describe('SQLite store: migrations', () => {
  it('drops the by-user index of a version-0 file, keeps every register and answers reads the same', async () => {
    dir = await createTempDir('sqlite-migrate');
    const path = join(dir.path, 'cohorts.db');
    const old = new Database(path);
    old.exec(VERSION_0);
    old.close();

    const db = openSqliteDatabase(path);
    const store = createSqliteStore(db);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(indexes(db)).toEqual([]);
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties: { plan: 'pro' } },
    ]);
    expect(await store.userCohorts('u1')).toEqual([
      { cohortId: 'c1', cohortName: 'One', since: 100 },
      { cohortId: 'c2', cohortName: 'Two', since: 90 },
    ]);
    expect(await store.userCohorts('u2')).toEqual([]);
    // The tombstone still wins over an older add.
    expect(await store.applyBatch(cohortBatch({ computedTime: 50, users: usersOf('u2') }))).toEqual([]);
    db.close();

    // Opening it again migrates nothing more.
    const reopened = openSqliteDatabase(path);
    createSqliteStore(reopened);
    expect(reopened.pragma('user_version', { simple: true })).toBe(1);
    reopened.close();
  });

  it('creates a new file at the current version, without the by-user index', async () => {
    dir = await createTempDir('sqlite-migrate');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    createSqliteStore(db);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(indexes(db)).toEqual([]);
    db.close();
  });

  it('refuses a file written by a newer release', async () => {
    dir = await createTempDir('sqlite-migrate');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    db.pragma('user_version = 7');
    expect(() => createSqliteStore(db)).toThrow(/version 7, newer than this release's 1/);
    db.close();
  });
});
