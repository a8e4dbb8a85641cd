/**
 * kill -9 of a receiver on the defaults (only SQLITE_PATH set, to keep the files in a temporary
 * folder), mid-apply with a backlog: the inbox holds every body before its 200 and lets a batch go
 * only after the store's commit that holds it, so every batch that got a 200 is in the store after
 * a restart, and none counted twice.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually, post } from '../durability/traffic.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const usersPerBatch = 2000;

let dir: TempDir;
const running: ReceiverProcess[] = [];
beforeEach(async () => {
  dir = await createTempDir('kill-default');
});
afterEach(async () => {
  for (const receiver of running.splice(0)) {
    receiver.child.kill('SIGKILL');
    await receiver.exited;
  }
  await dir.remove();
});

const sqlitePath = () => join(dir.path, 'cohorts.db');
const inboxPath = () => join(dir.path, 'cohorts.inbox.db');

async function start() {
  const receiver = await startReceiverProcess({ env: { SQLITE_PATH: sqlitePath() } });
  running.push(receiver);
  const listening = receiver.logLines.find((line) => line.msg === 'listening');
  expect(listening).toMatchObject({ queue: 'sqlite', store: 'sqlite' });
  return receiver;
}

const body = (messageId: string, users: string[]) =>
  JSON.stringify({
    cohort_name: 'Kill',
    cohort_id: 'kill',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: users.map((userId) => ({ user_id: userId })),
  });

function read<T>(work: (db: Database.Database) => T, path = sqlitePath()): T {
  const db = new Database(path, { readonly: true });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

describe('kill -9 on the defaults', () => {
  it('applies after a restart every batch that got a 200, each once', async () => {
    const receiver = await start();
    const acked: string[] = [];
    let sequence = 0;
    let killed = false;
    const loop = async () => {
      while (!killed) {
        const messageId = `kill-${++sequence}`;
        const users = Array.from({ length: usersPerBatch }, (_, i) => `${messageId}-u${i}`);
        const result = await post(receiver.url, body(messageId, users));
        if (result.status === 200 && result.body.status === 'accepted') acked.push(messageId);
        // Kill once some are applied and more wait: mid-apply, with a backlog.
        const applied = read(
          (db) => db.prepare('SELECT count(*) FROM cohort_memberships').pluck().get() as number,
        );
        if (!killed && acked.length >= 30 && applied > 0) {
          killed = true;
          receiver.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, loop));
    await receiver.exited;
    const backlog = read(
      (db) => db.prepare('SELECT count(*) FROM queue_inbox').pluck().get() as number,
      inboxPath(),
    );
    expect(backlog).toBeGreaterThan(0); // the kill came while acknowledged batches still waited

    await start();
    const rows = () =>
      read(
        (db) =>
          db
            .prepare("SELECT count(*) FROM cohort_memberships WHERE cohort_id = 'kill' AND in_cohort = 1")
            .pluck()
            .get() as number,
      );
    const everyone = acked.length * usersPerBatch;
    await eventually(async () => rows() >= everyone, 'every acknowledged batch to be applied', 60_000);
    const missing = read((db) => {
      const present = db.prepare(
        "SELECT count(*) FROM cohort_memberships WHERE cohort_id = 'kill' AND user_id IN (?, ?)",
      );
      return acked.filter((id) => present.pluck().get(`${id}-u0`, `${id}-u${usersPerBatch - 1}`) !== 2);
    });
    expect(missing).toEqual([]);
    // Only acknowledged batches were sent with their own users, so the rows are exactly theirs (a
    // batch the kill interrupted before its 200 may have landed too), and the count matches them.
    const members = read((db) =>
      db.prepare("SELECT members FROM cohort_cohorts WHERE cohort_id = 'kill'").pluck().get(),
    );
    expect(members).toBe(rows());
    expect(rows() % usersPerBatch).toBe(0);
  });
});
