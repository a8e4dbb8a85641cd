/**
 * @module The default MembershipStore: the last-writer-wins registers in a SQLite file, applied one
 * transaction per batch. Survives a killed process on one machine (docs/design.md). The file is
 * opened, and checkpointed in the background, by `src/sqlite/`.
 */
import Database from 'better-sqlite3';
import type { CohortBatch } from '../core/batch.ts';
import { StoreUnavailableError } from '../core/errors.ts';
import { type MemberRow, membersPage, pageRead } from '../core/store/members-page.ts';
import { type BatchDecision, compareVersions, decideBatch, type Register } from '../core/store/register.ts';
import type {
  ApplyOptions,
  CohortSummary,
  MembershipChange,
  MembershipStore,
  UserCohort,
} from '../core/store/store.ts';
import { createGroupCommitter, type GroupEntry } from './group-commit.ts';

/**
 * Every table is prefixed `cohort_` so the store can share its file with the SQLite queue's inbox.
 * Text columns use SQLite's default BINARY collation, which orders by UTF-8 bytes, i.e. by code
 * point: the order `compareCodePoints` gives, so the SQL comparisons below agree with the JS ones.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS cohort_memberships (
  cohort_id     TEXT    NOT NULL,
  user_id       TEXT    NOT NULL,
  in_cohort     INTEGER NOT NULL, -- 1: a member; 0: a tombstone, kept so an older add cannot win
  computed_time NUMERIC NOT NULL,
  message_id    TEXT    NOT NULL,
  properties    TEXT,             -- the winning message's user_properties, JSON.stringify'd
  PRIMARY KEY (cohort_id, user_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cohort_cohorts (
  cohort_id          TEXT    NOT NULL PRIMARY KEY,
  cohort_name        TEXT    NOT NULL, -- from the newest batch: (name_computed_time, name_message_id)
  name_computed_time NUMERIC NOT NULL,
  name_message_id    TEXT    NOT NULL,
  members            INTEGER NOT NULL, -- moved by each batch's entered minus left
  updated_at         NUMERIC NOT NULL  -- the latest computed_time applied
) WITHOUT ROWID;
`;

/**
 * The layout's version, kept in the file's `user_version` (the store's tables are the only ones
 * that use it). 1: no by-user index. Random user ids dirtied a page of that index per user as well
 * as the table's own, half the pages each commit wrote; a user's cohorts are found instead by one
 * primary-key lookup per cohort, and there are far fewer cohorts than users (docs/performance.md).
 */
const SCHEMA_VERSION = 1;
const MIGRATIONS: Record<number, string> = {
  1: 'DROP INDEX IF EXISTS cohort_memberships_members_by_user',
};

// A batch's user ids are passed as one JSON array, sorted, and unpacked by json_each: reading a
// batch's registers is one statement, probing in key order (faster than one statement per user, or
// `user_id IN (SELECT value FROM json_each(?))`, which sorts them again).
const SELECT_REGISTERS = `
SELECT m.user_id, m.in_cohort, m.computed_time, m.message_id, m.properties
FROM json_each(?) AS ids CROSS JOIN cohort_memberships AS m
WHERE m.cohort_id = ? AND m.user_id = ids.value`;

// New registers are inserted in one statement (json_each); existing ones are updated one statement
// per user with positional parameters, faster than one upsert for the batch (an upsert probes, then
// seeks again to update) or named parameters. A win that keeps the direction leaves `in_cohort` alone.
// A group's new registers each carry their own version (its batches differ).
const INSERT_WINNERS = `
INSERT INTO cohort_memberships (cohort_id, user_id, in_cohort, computed_time, message_id, properties)
SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)`;
const INSERT_REGISTERS = `
INSERT INTO cohort_memberships (cohort_id, user_id, in_cohort, computed_time, message_id, properties)
SELECT @cohortId, value ->> 0, @inCohort, @computedTime, @messageId, value ->> 1 FROM json_each(@writes)`;
const UPDATE_REGISTER_VERSION = `
UPDATE cohort_memberships SET computed_time = ?, message_id = ?, properties = ?
WHERE cohort_id = ? AND user_id = ?`;
const UPDATE_REGISTER_DIRECTION = `
UPDATE cohort_memberships SET computed_time = ?, message_id = ?, properties = ?, in_cohort = ?
WHERE cohort_id = ? AND user_id = ?`;

const NEWER_NAME = `(excluded.name_computed_time, excluded.name_message_id) > (name_computed_time, name_message_id)`;
const UPSERT_COHORT = `
INSERT INTO cohort_cohorts (cohort_id, cohort_name, name_computed_time, name_message_id, members, updated_at)
VALUES (@cohortId, @cohortName, @computedTime, @messageId, @memberDelta, @computedTime)
ON CONFLICT (cohort_id) DO UPDATE SET
  cohort_name = iif(${NEWER_NAME}, excluded.cohort_name, cohort_name),
  name_computed_time = iif(${NEWER_NAME}, excluded.name_computed_time, name_computed_time),
  name_message_id = iif(${NEWER_NAME}, excluded.name_message_id, name_message_id),
  members = members + excluded.members,
  updated_at = max(updated_at, excluded.updated_at)`;

const LIST_COHORTS = `
SELECT cohort_id AS cohortId, cohort_name AS cohortName, members, updated_at AS updatedAt
FROM cohort_cohorts ORDER BY cohort_id`;

const REMOVE_MEMBERSHIPS = 'DELETE FROM cohort_memberships WHERE cohort_id = ?';
const REMOVE_COHORT = 'DELETE FROM cohort_cohorts WHERE cohort_id = ?';

const MEMBER_COLUMNS = 'SELECT user_id, computed_time, properties, message_id FROM cohort_memberships';
const LIST_FIRST_MEMBERS = `${MEMBER_COLUMNS} WHERE cohort_id = ? AND in_cohort = 1 ORDER BY user_id LIMIT ?`;
const LIST_MEMBERS_AFTER = `${MEMBER_COLUMNS} WHERE cohort_id = ? AND in_cohort = 1 AND user_id > ? ORDER BY user_id LIMIT ?`;

// One primary-key lookup per cohort (CROSS JOIN keeps that order): no by-user index to maintain.
const USER_COHORTS = `
SELECT c.cohort_id AS cohortId, c.cohort_name AS cohortName, m.computed_time AS since
FROM cohort_cohorts AS c CROSS JOIN cohort_memberships AS m
WHERE m.cohort_id = c.cohort_id AND m.user_id = ? AND m.in_cohort = 1 ORDER BY c.cohort_id`;

/** One cohort of a group: its users, their registers before the group and as the group leaves them. */
interface GroupCohort {
  ids: Set<string>;
  stored: Map<string, Register>;
  won: Map<string, Register>;
  memberDelta: number;
  /** The group's newest batch of this cohort: its name and version go to `cohort_cohorts`. */
  newest: CohortBatch;
}

type RegisterRow = [
  userId: string,
  inCohort: 0 | 1,
  computedTime: number,
  messageId: string,
  properties: string | null,
];

/** A MembershipStore on SQLite, plus the synchronous apply the SQLite queue composes with. */
export interface SqliteStore extends MembershipStore {
  /**
   * Applies one batch in a transaction and returns its effective changes. Inside a caller's
   * `db.transaction` it becomes a savepoint of that transaction, so the SQLite queue can delete a
   * batch's inbox row and apply it in one commit: exactly once.
   */
  applyBatchSync(batch: CohortBatch, options?: ApplyOptions): MembershipChange[];
}

export interface SqliteStoreOptions {
  /**
   * `applyBatch` calls made within `groupCommitWaitMs` of the first commit together, up to this many
   * users per transaction (src/store/sqlite-group-commit.ts); 1 commits each batch alone.
   * @default 20_000
   */
  groupCommitUsers?: number;
  /** How long a group waits for more batches before it commits. @default 10 */
  groupCommitWaitMs?: number;
  /** Hears why a group could not be applied at once (it is then applied batch by batch). */
  onGroupSplit?: (error: unknown) => void;
}

/** The group commit's bound in users when unset: 20 batches of 1,000 users. */
export const defaultGroupCommitUsers = 20_000;

/**
 * Creates the store's tables in `db` if missing (or migrates them) and returns the store. The store
 * does not own `db`: the caller closes it after `close()`, which commits what is waiting.
 */
export function createSqliteStore(db: Database.Database, storeOptions: SqliteStoreOptions = {}): SqliteStore {
  migrate(db);
  const selectRegisters = db.prepare<[string, string], RegisterRow>(SELECT_REGISTERS).raw();
  const insertRegisters = db.prepare(INSERT_REGISTERS);
  const insertWinners = db.prepare<[string, string]>(INSERT_WINNERS);
  const updateRegisterVersion =
    db.prepare<[number, string, string | null, string, string]>(UPDATE_REGISTER_VERSION);
  const updateRegisterDirection =
    db.prepare<[number, string, string | null, 0 | 1, string, string]>(UPDATE_REGISTER_DIRECTION);
  const upsertCohort = db.prepare(UPSERT_COHORT);
  const listCohorts = db.prepare<[], CohortSummary>(LIST_COHORTS);
  const listFirstMembers = db.prepare<[string, number], MemberRow>(LIST_FIRST_MEMBERS).raw();
  const listMembersAfter = db.prepare<[string, string, number], MemberRow>(LIST_MEMBERS_AFTER).raw();
  const userCohorts = db.prepare<[string], UserCohort>(USER_COHORTS);
  const ping = db.prepare('SELECT 1');
  const removeMemberships = db.prepare<[string]>(REMOVE_MEMBERSHIPS);
  const removeCohortRow = db.prepare<[string]>(REMOVE_COHORT);
  const removeInTransaction = db.transaction(
    (cohortId: string) => removeMemberships.run(cohortId).changes + removeCohortRow.run(cohortId).changes > 0,
  );

  const storedRegisters = (batch: CohortBatch): Map<string, Register> => {
    const registers = new Map<string, Register>();
    if (batch.users.length === 0) return registers;
    // Any consistent order gives the locality; the default (UTF-16) sort is the cheapest.
    const userIds = JSON.stringify(batch.users.map((user) => user.userId).sort());
    const rows = selectRegisters.all(userIds, batch.cohortId);
    for (const [userId, inCohort, computedTime, messageId, propertiesJson] of rows) {
      registers.set(userId, { inCohort: inCohort === 1, computedTime, messageId, propertiesJson });
    }
    return registers;
  };

  const writeRegisters = (
    batch: CohortBatch,
    writes: BatchDecision['writes'],
    stored: Map<string, Register>,
  ) => {
    const { cohortId, computedTime, messageId } = batch;
    const inCohort = batch.inCohort ? 1 : 0;
    const inserts: [userId: string, properties: string | null][] = [];
    // Key order keeps a batch of random ids from hopping around the B-tree.
    for (const { userId, register } of [...writes].sort(byUserId)) {
      const before = stored.get(userId);
      const properties = register.propertiesJson;
      if (before === undefined) inserts.push([userId, properties]);
      else if (before.inCohort === register.inCohort) {
        updateRegisterVersion.run(computedTime, messageId, properties, cohortId, userId);
      } else {
        updateRegisterDirection.run(computedTime, messageId, properties, inCohort, cohortId, userId);
      }
    }
    if (inserts.length > 0) {
      insertRegisters.run({ cohortId, inCohort, computedTime, messageId, writes: JSON.stringify(inserts) });
    }
  };

  const applyInTransaction = db.transaction(
    (batch: CohortBatch, options?: ApplyOptions): MembershipChange[] => {
      const stored = storedRegisters(batch);
      const { writes, changes, memberDelta } = decideBatch(batch, (userId) => stored.get(userId), options);
      writeRegisters(batch, writes, stored);
      const { cohortId, cohortName, computedTime, messageId } = batch;
      upsertCohort.run({ cohortId, cohortName, computedTime, messageId, memberDelta });
      return changes;
    },
  );
  // IMMEDIATE takes the write lock before reading, so another process writing the same file makes
  // this wait (busy_timeout) instead of failing on a stale read. Nested, it is a savepoint anyway.
  const applyBatchSync = (batch: CohortBatch, options?: ApplyOptions) =>
    applyInTransaction.immediate(batch, options);

  /**
   * A group as if its batches were applied one after the other, in far fewer statements: per cohort,
   * one read of the group's distinct users in key order; each batch decided against what the earlier
   * ones won; the winners written once, in key order. Random ids then share leaf pages, and a large
   * group writes each page once (docs/performance.md#a-first-sync-at-full-size).
   */
  const applyGroupSorted = (group: GroupEntry[]): MembershipChange[][] => {
    const cohorts = new Map<string, GroupCohort>();
    for (const { batch } of group) {
      let cohort = cohorts.get(batch.cohortId);
      if (cohort === undefined) {
        cohort = { ids: new Set(), stored: new Map(), won: new Map(), memberDelta: 0, newest: batch };
        cohorts.set(batch.cohortId, cohort);
      }
      for (const user of batch.users) cohort.ids.add(user.userId);
      if (compareVersions(batch, cohort.newest) > 0) cohort.newest = batch;
    }
    for (const [cohortId, cohort] of cohorts) {
      const rows = selectRegisters.all(JSON.stringify([...cohort.ids].sort()), cohortId);
      for (const [userId, inCohort, computedTime, messageId, propertiesJson] of rows) {
        cohort.stored.set(userId, { inCohort: inCohort === 1, computedTime, messageId, propertiesJson });
      }
    }
    const changes = group.map(({ batch, options }) => {
      const cohort = cohorts.get(batch.cohortId) as GroupCohort;
      const { won, stored } = cohort;
      const decision = decideBatch(batch, (userId) => won.get(userId) ?? stored.get(userId), options);
      for (const { userId, register } of decision.writes) won.set(userId, register);
      cohort.memberDelta += decision.memberDelta;
      return decision.changes;
    });
    for (const [cohortId, { won, stored, memberDelta, newest }] of cohorts) {
      writeWinners(cohortId, won, stored);
      const { cohortName, computedTime, messageId } = newest;
      upsertCohort.run({ cohortId, cohortName, computedTime, messageId, memberDelta });
    }
    return changes;
  };

  /** The registers `won` over `stored`, in key order: new ones by one statement, the others one by one. */
  const writeWinners = (cohortId: string, won: Map<string, Register>, stored: Map<string, Register>) => {
    const inserts: [
      userId: string,
      inCohort: 0 | 1,
      computedTime: number,
      messageId: string,
      properties: string | null,
    ][] = [];
    for (const userId of [...won.keys()].sort()) {
      const { inCohort, computedTime, messageId, propertiesJson } = won.get(userId) as Register;
      const before = stored.get(userId);
      if (before === undefined)
        inserts.push([userId, inCohort ? 1 : 0, computedTime, messageId, propertiesJson]);
      else if (before.inCohort === inCohort) {
        updateRegisterVersion.run(computedTime, messageId, propertiesJson, cohortId, userId);
      } else {
        updateRegisterDirection.run(
          computedTime,
          messageId,
          propertiesJson,
          inCohort ? 1 : 0,
          cohortId,
          userId,
        );
      }
    }
    if (inserts.length > 0) insertWinners.run(cohortId, JSON.stringify(inserts));
  };

  const groups = createGroupCommitter(db, applyBatchSync, {
    applyAll: applyGroupSorted,
    ...(storeOptions.onGroupSplit && { onSplit: storeOptions.onGroupSplit }),
    maxUsers: storeOptions.groupCommitUsers ?? defaultGroupCommitUsers,
    maxWaitMs: storeOptions.groupCommitWaitMs ?? 10,
  });

  return {
    applyBatchSync,

    applyBatch(batch, options) {
      return groups.apply(batch, options).catch((error: unknown) => {
        throw unavailableWhenDiskFails(error);
      });
    },

    async listCohorts() {
      return listCohorts.all();
    },

    async listMembers(cohortId, request) {
      const { afterUserId, fetch } = pageRead(request);
      const rows =
        afterUserId === undefined
          ? listFirstMembers.all(cohortId, fetch)
          : listMembersAfter.all(cohortId, afterUserId, fetch);
      return membersPage(rows, request.limit);
    },

    async userCohorts(userId) {
      return userCohorts.all(userId);
    },

    async removeCohort(cohortId) {
      // Batches still waiting for the group commit go first: removing means removing them too.
      groups.flush();
      try {
        return removeInTransaction.immediate(cohortId);
      } catch (error) {
        throw unavailableWhenDiskFails(error);
      }
    },

    async check() {
      ping.get();
    },

    async close() {
      groups.flush();
    },
  };
}

/**
 * A full disk or a failing one (SQLITE_FULL, SQLITE_IOERR_…) makes the store away, not a refusal of
 * the batch: the worker waits for space instead of spending the batch's attempts.
 */
function unavailableWhenDiskFails(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError) || !/^SQLITE_(FULL|IOERR)/.test(error.code)) return error;
  return new StoreUnavailableError('the SQLite store cannot write', { cause: error });
}

type RegisterWrite = BatchDecision['writes'][number];
const byUserId = (a: RegisterWrite, b: RegisterWrite) =>
  a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;

/**
 * Creates the tables, or brings an older file's layout to {@link SCHEMA_VERSION}, in one transaction.
 * @throws Error when the file was written by a newer release (a layout this one does not know).
 */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the SQLite store's layout is version ${version}, newer than this release's ${SCHEMA_VERSION}`,
      );
    }
    db.exec(SCHEMA);
    for (let next = version + 1; next <= SCHEMA_VERSION; next++) db.exec(MIGRATIONS[next] ?? '');
    if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
