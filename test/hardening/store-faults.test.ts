/**
 * Store faults during apply, on a real receiver with the real SQLite store and worker:
 * - SQLITE_BUSY for real: a second connection holds the file's write lock (as `npm run dlq` or a
 *   backup script in another process could); the store's busy_timeout is shortened to 50 ms on the
 *   test's own connection so each attempt fails fast.
 * - SQLITE_FULL for real: `PRAGMA max_page_count` caps the file at its current size, and SQLite
 *   itself fails the write with "database or disk is full" exactly as on a full disk. The store is
 *   away, not refusing: applying waits for space, spending no attempt (test/faults/disk-full.test.ts
 *   fills a real disk).
 * - SQLITE_FULL faked: a wrapper store throws better-sqlite3's own SqliteError for one cohort only,
 *   the one fault here that cannot be made for real: a full store beside writable dead letters
 *   (they share one file). It shows the path to a dead letter.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backends } from '../../src/compose.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { Config } from '../../src/runtime/config.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteDeadLetters } from '../../src/sqlite/dead-letters.ts';
import { sqliteStoreRecipe } from '../../src/sqlite/open-store.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { amplitudeBody, membersOf, scrapeMetrics, startTestReceiver, type TestReceiver } from './receiver.ts';

let receiver: TestReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

/** Backends as `openBackends` makes them for QUEUE=memory STORE=sqlite, on a connection the test can tune. */
function partsOnOwnConnection(onOpen: (db: Database.Database) => void) {
  return async (config: Config, _logger: unknown, path: string): Promise<Backends> => {
    const db = openSqliteDatabase(path);
    onOpen(db);
    const deadLetters = createSqliteDeadLetters(db, { maxPerKind: config.QUARANTINE_MAX });
    const store = createSqliteStore(db);
    const queue = createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: config.QUEUE_MAX_USERS });
    return {
      queue,
      store,
      deadLetters,
      home: { kind: 'sqlite', db },
      storeRecipe: sqliteStoreRecipe(path),
      async close() {
        await queue.close();
        await store.close();
        await deadLetters.close();
        db.close();
      },
    };
  };
}

async function postBatch(messageId: string, cohortId: string, users: number) {
  const userIds = Array.from({ length: users }, (_, index) => `${cohortId}-user-${index}`);
  const body = amplitudeBody(messageId, userIds, {
    cohort_id: cohortId,
    users: userIds.map((user_id) => ({ user_id, user_properties: { plan: 'x'.repeat(200) } })),
  });
  const response = await fetch(`${receiver?.url}/webhook`, { method: 'POST', body });
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ status: 'accepted' });
}

const errorCode = (line: Record<string, unknown>) => (line.err as { code?: string } | undefined)?.code;
const retryLines = (messageId: string) =>
  (receiver?.logLines ?? []).filter(
    (line) => line.msg === 'apply failed, will retry' && line.message_id === messageId,
  );

async function waitForMembers(cohortId: string, count: number) {
  for (let attempt = 0; attempt < 500; attempt++) {
    if ((await membersOf(receiver?.url ?? '', cohortId)).length === count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`cohort ${cohortId} never reached ${count} members`);
}

describe('SQLite busy: another connection holds the write lock', () => {
  it('keeps acknowledging, retries with backoff, and applies once the lock goes', async () => {
    let db!: Database.Database;
    receiver = await startTestReceiver(
      { APPLY_MAX_ATTEMPTS: '3', SINKS: 'none' },
      {
        openBackends: partsOnOwnConnection((opened) => {
          db = opened;
          db.pragma('busy_timeout = 50');
        }),
      },
    );
    const holder = new Database(receiver.sqlitePath);
    try {
      // A short lock: released after two failed attempts, so the third succeeds.
      holder.prepare('BEGIN IMMEDIATE').run();
      await postBatch('busy-short', 'busy-short', 50);
      await receiver.waitForLog(() => retryLines('busy-short').length >= 2);
      expect(retryLines('busy-short').map(errorCode)).toEqual(['SQLITE_BUSY', 'SQLITE_BUSY']);
      holder.prepare('COMMIT').run();
      await receiver.settle();
      expect(await membersOf(receiver.url, 'busy-short')).toHaveLength(50);

      // A lock that outlasts every attempt: the dead letter cannot be written either (same file),
      // so the batch is delivered again, and applied once the lock goes. Nothing acknowledged is lost.
      holder.prepare('BEGIN IMMEDIATE').run();
      await postBatch('busy-long', 'busy-long', 50);
      const stuck = await receiver.waitForLog(
        (line) =>
          line.message_id === 'busy-long' &&
          String(line.msg).includes('the dead letter could not be written'),
      );
      expect(errorCode(stuck)).toBe('SQLITE_BUSY');
      expect(stuck.apply_error).toBe('SqliteError: database is locked');
      holder.prepare('COMMIT').run();
      await waitForMembers('busy-long', 50);

      const metrics = await scrapeMetrics(receiver.url);
      expect(metrics.get('cohort_receiver_apply_errors_total')).toBeGreaterThanOrEqual(2 + 3);
      expect(metrics.get('cohort_receiver_dead_letters_total{kind="failed"}') ?? 0).toBe(0);
      expect(await receiver.parts.deadLetters.list({ kind: 'failed' })).toEqual([]);
    } finally {
      if (holder.inTransaction) holder.prepare('COMMIT').run();
      holder.close();
    }
  });
});

describe('SQLite full', () => {
  it('real (max_page_count): waits while nothing can be written, spending no attempt, applies once space is back', async () => {
    let db!: Database.Database;
    receiver = await startTestReceiver(
      { APPLY_MAX_ATTEMPTS: '3', SINKS: 'none' },
      {
        openBackends: partsOnOwnConnection((opened) => {
          db = opened;
        }),
      },
    );
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    await postBatch('full-real', 'full-real', 2000);
    const away = await receiver.waitForLog((line) => String(line.msg).startsWith('store unavailable'));
    expect(away.err).toMatchObject({
      type: 'StoreUnavailableError',
      message: 'the SQLite store cannot write: database or disk is full',
    });
    // Longer than APPLY_MAX_ATTEMPTS' backoff (100 + 200 ms): no retry counted, nothing set aside.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(retryLines('full-real')).toEqual([]);
    expect(receiver.logLines.map((line) => line.msg)).not.toContain(
      'apply failed on every attempt and the dead letter could not be written; the batch will be delivered again',
    );

    // Space is freed: the next delivery applies the batch whole.
    db.pragma('max_page_count = 1073741823');
    await waitForMembers('full-real', 2000);
    expect(await receiver.parts.deadLetters.list({ kind: 'failed' })).toEqual([]);
  });

  it('faked for one cohort: retries with backoff, then a dead letter holding the whole batch; others still apply', async () => {
    receiver = await startTestReceiver(
      { APPLY_MAX_ATTEMPTS: '4', SINKS: 'none' },
      {
        wrapStore: (store) => ({
          ...store,
          async applyBatch(batch, options) {
            if (batch.cohortId === 'disk-full') {
              throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
            }
            return store.applyBatch(batch, options);
          },
        }),
      },
    );
    await postBatch('full-fake', 'disk-full', 3);
    await postBatch('healthy', 'healthy', 3);
    const setAside = await receiver.waitForLog(
      (line) => line.msg === 'apply failed on every attempt; batch set aside as a dead letter',
    );
    expect(setAside).toMatchObject({ message_id: 'full-fake', cohort_id: 'disk-full', attempts: 4 });
    expect(errorCode(setAside)).toBe('SQLITE_FULL');

    // Backoff: each retry waited at least the documented delay (100 ms doubling) after the failure before.
    const failures = [...retryLines('full-fake'), setAside];
    expect(failures.slice(0, 3).map((line) => line.attempt)).toEqual([1, 2, 3]);
    for (let index = 1; index < failures.length; index++) {
      const waited = Number(failures[index]?.time) - Number(failures[index - 1]?.time);
      expect(waited).toBeGreaterThanOrEqual(100 * 2 ** (index - 1) - 2);
    }

    const [letter, ...others] = await receiver.parts.deadLetters.list({ kind: 'failed' });
    expect(others).toEqual([]);
    expect(letter).toMatchObject({
      messageId: 'full-fake',
      reason: 'SqliteError: database or disk is full (after 4 attempts)',
    });
    // The whole batch, in Amplitude's default shape, as a replay queues it again.
    const kept = JSON.parse(letter?.body ?? '{}') as { users: { user_id: string }[] };
    expect(kept.users.map((user) => user.user_id)).toEqual([
      'disk-full-user-0',
      'disk-full-user-1',
      'disk-full-user-2',
    ]);

    await receiver.settle();
    expect(await membersOf(receiver.url, 'healthy')).toHaveLength(3);
    const metrics = await scrapeMetrics(receiver.url);
    expect(metrics.get('cohort_receiver_apply_errors_total')).toBe(4);
    expect(metrics.get('cohort_receiver_dead_letters_total{kind="failed"}')).toBe(1);
  });
});
