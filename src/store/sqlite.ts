/**
 * @module The default MembershipStore: the last-writer-wins registers in a SQLite file, applied one
 * transaction per batch. Survives a killed process on one machine (DESIGN.md section 5).
 */
import type Database from 'better-sqlite3';
import type { CohortBatch } from '../batch.ts';
import {
  assertPageLimit,
  type BatchDecision,
  decideBatch,
  decodeMemberCursor,
  encodeMemberCursor,
  type Register,
} from './register.ts';
import type { CohortSummary, Member, MembershipChange, MembershipStore, UserCohort } from './store.ts';

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

CREATE INDEX IF NOT EXISTS cohort_memberships_members_by_user
  ON cohort_memberships (user_id) WHERE in_cohort = 1;

CREATE TABLE IF NOT EXISTS cohort_cohorts (
  cohort_id          TEXT    NOT NULL PRIMARY KEY,
  cohort_name        TEXT    NOT NULL, -- from the newest batch: (name_computed_time, name_message_id)
  name_computed_time NUMERIC NOT NULL,
  name_message_id    TEXT    NOT NULL,
  members            INTEGER NOT NULL, -- moved by each batch's entered minus left
  updated_at         NUMERIC NOT NULL  -- the latest computed_time applied
) WITHOUT ROWID;
`;

// A batch's users are passed as one JSON array and unpacked by json_each, so reading or writing
// a 1,000-user batch is one statement rather than 1,000 (measured ~1.4x faster end to end).
const SELECT_REGISTERS = `
SELECT user_id, in_cohort, computed_time, message_id, properties FROM cohort_memberships
WHERE cohort_id = ? AND user_id IN (SELECT value FROM json_each(?))`;

// Writes come in three kinds so each statement touches only what must change: new registers are
// plain inserts; a win that keeps the direction leaves `in_cohort` alone, and with it the
// members_by_user index (SQLite maintains an index only when a column it uses is SET), which halves
// the pages a commit writes in the common "still in" case. `WHERE true` settles a parsing ambiguity of
// INSERT ... SELECT ... ON CONFLICT (https://www.sqlite.org/lang_upsert.html, "Parsing Ambiguity").
const REGISTER_VALUES = `SELECT @cohortId, value ->> 0, @inCohort, @computedTime, @messageId, value ->> 1 FROM json_each(@writes)`;
const INSERT_REGISTERS = `
INSERT INTO cohort_memberships (cohort_id, user_id, in_cohort, computed_time, message_id, properties)
${REGISTER_VALUES}`;
const UPDATE_REGISTER_VERSIONS = `${INSERT_REGISTERS} WHERE true
ON CONFLICT (cohort_id, user_id) DO UPDATE SET
  computed_time = excluded.computed_time,
  message_id = excluded.message_id,
  properties = excluded.properties`;
const UPDATE_REGISTER_DIRECTIONS = `${UPDATE_REGISTER_VERSIONS},
  in_cohort = excluded.in_cohort`;

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

const MEMBER_COLUMNS = 'SELECT user_id, computed_time, properties FROM cohort_memberships';
const LIST_FIRST_MEMBERS = `${MEMBER_COLUMNS} WHERE cohort_id = ? AND in_cohort = 1 ORDER BY user_id LIMIT ?`;
const LIST_MEMBERS_AFTER = `${MEMBER_COLUMNS} WHERE cohort_id = ? AND in_cohort = 1 AND user_id > ? ORDER BY user_id LIMIT ?`;

const USER_COHORTS = `
SELECT m.cohort_id AS cohortId, c.cohort_name AS cohortName, m.computed_time AS since
FROM cohort_memberships AS m JOIN cohort_cohorts AS c ON c.cohort_id = m.cohort_id
WHERE m.user_id = ? AND m.in_cohort = 1 ORDER BY m.cohort_id`;

type RegisterRow = [
  userId: string,
  inCohort: 0 | 1,
  computedTime: number,
  messageId: string,
  properties: string | null,
];
/** A register write as json_each reads it: [user_id, properties]. */
type RegisterWrite = [userId: string, propertiesJson: string | null];
type MemberRow = [userId: string, computedTime: number, properties: string | null];

/** A MembershipStore on SQLite, plus the synchronous apply the SQLite queue composes with. */
export interface SqliteStore extends MembershipStore {
  /**
   * Applies one batch in a transaction and returns its effective changes. Inside a caller's
   * `db.transaction` it becomes a savepoint of that transaction, so the SQLite queue can delete a
   * batch's inbox row and apply it in one commit: exactly once.
   */
  applyBatchSync(batch: CohortBatch): MembershipChange[];
}

/**
 * Creates the store's tables in `db` if missing and returns the store. The store does not own
 * `db`: the caller closes it (after `close()`, which does nothing, so it is always safe to call).
 */
export function createSqliteStore(db: Database.Database): SqliteStore {
  db.exec(SCHEMA);
  const selectRegisters = db.prepare<[string, string], RegisterRow>(SELECT_REGISTERS).raw();
  const insertRegisters = db.prepare(INSERT_REGISTERS);
  const updateRegisterVersions = db.prepare(UPDATE_REGISTER_VERSIONS);
  const updateRegisterDirections = db.prepare(UPDATE_REGISTER_DIRECTIONS);
  const upsertCohort = db.prepare(UPSERT_COHORT);
  const listCohorts = db.prepare<[], CohortSummary>(LIST_COHORTS);
  const listFirstMembers = db.prepare<[string, number], MemberRow>(LIST_FIRST_MEMBERS).raw();
  const listMembersAfter = db.prepare<[string, string, number], MemberRow>(LIST_MEMBERS_AFTER).raw();
  const userCohorts = db.prepare<[string], UserCohort>(USER_COHORTS);
  const ping = db.prepare('SELECT 1');

  const storedRegisters = (batch: CohortBatch): Map<string, Register> => {
    const registers = new Map<string, Register>();
    if (batch.users.length === 0) return registers;
    const userIds = JSON.stringify(batch.users.map((user) => user.userId));
    for (const [userId, inCohort, computedTime, messageId, propertiesJson] of selectRegisters.all(
      batch.cohortId,
      userIds,
    )) {
      registers.set(userId, { inCohort: inCohort === 1, computedTime, messageId, propertiesJson });
    }
    return registers;
  };

  const writeRegisters = (
    batch: CohortBatch,
    writes: BatchDecision['writes'],
    stored: Map<string, Register>,
  ) => {
    const inserts: RegisterWrite[] = [];
    const versions: RegisterWrite[] = [];
    const directions: RegisterWrite[] = [];
    for (const { userId, register } of writes) {
      const before = stored.get(userId);
      const kind =
        before === undefined ? inserts : before.inCohort === register.inCohort ? versions : directions;
      kind.push([userId, register.propertiesJson]);
    }
    const { cohortId, computedTime, messageId } = batch;
    const inCohort = batch.inCohort ? 1 : 0;
    for (const [statement, rows] of [
      [insertRegisters, inserts],
      [updateRegisterVersions, versions],
      [updateRegisterDirections, directions],
    ] as const) {
      if (rows.length === 0) continue;
      // Key order keeps a batch of random ids from hopping around the B-tree: ~20% faster then.
      rows.sort(byUserId);
      statement.run({ cohortId, inCohort, computedTime, messageId, writes: JSON.stringify(rows) });
    }
  };

  const applyInTransaction = db.transaction((batch: CohortBatch): MembershipChange[] => {
    const stored = storedRegisters(batch);
    const { writes, changes, memberDelta } = decideBatch(batch, (userId) => stored.get(userId));
    writeRegisters(batch, writes, stored);
    const { cohortId, cohortName, computedTime, messageId } = batch;
    upsertCohort.run({ cohortId, cohortName, computedTime, messageId, memberDelta });
    return changes;
  });
  // IMMEDIATE takes the write lock before reading, so another process writing the same file makes
  // this wait (busy_timeout) instead of failing on a stale read. Nested, it is a savepoint anyway.
  const applyBatchSync = (batch: CohortBatch) => applyInTransaction.immediate(batch);

  return {
    applyBatchSync,

    async applyBatch(batch) {
      return applyBatchSync(batch);
    },

    async listCohorts() {
      return listCohorts.all();
    },

    async listMembers(cohortId, { limit, cursor }) {
      assertPageLimit(limit);
      // One row more than asked says whether another page follows.
      const rows =
        cursor === undefined
          ? listFirstMembers.all(cohortId, limit + 1)
          : listMembersAfter.all(cohortId, decodeMemberCursor(cursor), limit + 1);
      const members: Member[] = rows.slice(0, limit).map(([userId, since, properties]) => ({
        userId,
        since,
        properties: properties === null ? null : (JSON.parse(properties) as Record<string, unknown>),
      }));
      const last = members.at(-1);
      return { members, nextCursor: rows.length > limit && last ? encodeMemberCursor(last.userId) : null };
    },

    async userCohorts(userId) {
      return userCohorts.all(userId);
    },

    async check() {
      ping.get();
    },

    async close() {},
  };
}

const byUserId = (a: RegisterWrite, b: RegisterWrite) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
