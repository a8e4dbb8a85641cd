/** QUEUE=memory closing with a backlog: what it did not apply goes to the SQLite file, and comes back first. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CohortBatch } from '../../src/core/batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { DeliveryInfo } from '../../src/core/queue/queue.ts';
import { createBodyDecoder } from '../../src/runtime/stored-batch.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteSpill } from '../../src/sqlite/memory-spill.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const batch = (messageId: string, users = 2): CohortBatch => ({
  cohortId: 'c',
  cohortName: 'C',
  inCohort: true,
  computedTime: 1,
  messageId,
  users: Array.from({ length: users }, (_, i) => ({ userId: `${messageId}-u${i}` })),
});

let dir: TempDir;
afterEach(async () => {
  await dir.remove();
});

describe('memory queue spill', () => {
  it('keeps at close what it has not applied, in accept order, and delivers it first at the next start', async () => {
    dir = await createTempDir('memory-spill');
    const path = join(dir.path, 'cohorts.db');
    const first = openSqliteDatabase(path);
    const decodeBody = createBodyDecoder();
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, spill: createSqliteSpill(first) });
    const handled: string[] = [];
    // The first batch is applied; the second is in flight at the close and never finishes; the rest wait.
    queue.consume(async (b) => {
      if (b.messageId !== 'm1') await new Promise(() => {});
      handled.push(b.messageId);
    });
    await queue.accept(batch('m1'));
    await queue.accept(batch('m2'));
    const raw = JSON.stringify({
      cohort_id: 'c',
      cohort_name: 'C',
      in_cohort: true,
      computed_time: '1',
      message_id: 'm3',
      users: [{ user_id: 'raw-user' }],
    });
    await queue.accept(decodeBody(raw, 5), { rawBody: raw, receivedAtMs: 5 });
    await queue.accept(batch('m4', 3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual(['m1']);
    await queue.close();
    first.close();

    const second = openSqliteDatabase(path);
    const spill = createSqliteSpill(second);
    expect(spill.load().map((kept) => [kept.messageId, kept.users, kept.stored.format])).toEqual([
      ['m2', 2, 'batch'],
      ['m3', 1, 'batch'],
      ['m4', 3, 'batch'],
    ]);
    const restarted = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, decodeBody, spill });
    expect(await restarted.stats()).toMatchObject({ batches: 3, users: 6 });
    // Its message_ids are remembered: a resend of a kept batch is a duplicate.
    expect(await restarted.accept(batch('m2'))).toBe('duplicate');
    await restarted.accept(batch('m5'));
    const delivered: [CohortBatch, DeliveryInfo][] = [];
    restarted.consume(async (b, delivery) => {
      delivered.push([b, delivery]);
    });
    expect(await restarted.drain(5000)).toBe(true);
    expect(delivered.map(([b, delivery]) => [b.messageId, delivery.attempt])).toEqual([
      ['m2', 2],
      ['m3', 2],
      ['m4', 2],
      ['m5', 1],
    ]);
    expect(delivered[1]?.[0].users).toEqual([{ userId: 'raw-user' }]);
    // Applied: gone from the file.
    expect(spill.load()).toEqual([]);
    await restarted.close();
    expect(spill.load()).toEqual([]);
    second.close();
  });

  it('without a consumer (ROLE=receiver), drains at once at a shutdown and keeps every waiting batch', async () => {
    dir = await createTempDir('memory-spill');
    const path = join(dir.path, 'cohorts.db');
    const first = openSqliteDatabase(path);
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, spill: createSqliteSpill(first) });
    await queue.accept(batch('r1'));
    await queue.accept(batch('r2', 3));
    // Before the shutdown it still reports what waits.
    expect(await queue.drain(10)).toBe(false);
    queue.stopAccepting();
    // Nothing here would ever apply them: waiting the whole timeout would only delay the exit.
    expect(await queue.drain(10_000)).toBe(true);
    await queue.close();
    first.close();

    const second = openSqliteDatabase(path);
    const next = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, spill: createSqliteSpill(second) });
    const handled: string[] = [];
    next.consume(async (b) => {
      handled.push(`${b.messageId}:${b.users.length}`);
    });
    expect(await next.drain(5000)).toBe(true);
    expect(handled).toEqual(['r1:2', 'r2:3']);
    await next.close();
    second.close();
  });

  it('keeps raw bodies as they came when it has a decoder', async () => {
    dir = await createTempDir('memory-spill');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    const decodeBody = createBodyDecoder();
    const spill = createSqliteSpill(db);
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, decodeBody, spill });
    const raw =
      '{"cohort_id":"c","cohort_name":"C","in_cohort":false,"computed_time":"9","message_id":"r1","users":[{"user_id":"x"}]}';
    await queue.accept(decodeBody(raw, 7), { rawBody: raw, receivedAtMs: 7 });
    await queue.close();
    expect(spill.load()).toMatchObject([
      { messageId: 'r1', stored: { format: 'raw', body: raw, receivedAtMs: 7 } },
    ]);
    db.close();
  });

  it('sets aside a kept body the next release cannot parse, trying again when setting it aside failed', async () => {
    dir = await createTempDir('memory-spill');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    const spill = createSqliteSpill(db);
    const decodeBody = createBodyDecoder();
    const first = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, decodeBody, spill });
    const raw =
      '{"cohort_id":"c","cohort_name":"C","in_cohort":true,"computed_time":"9","message_id":"r1","users":[{"user_id":"x"}]}';
    await first.accept(decodeBody(raw, 7), { rawBody: raw, receivedAtMs: 7 });
    await first.close();

    const setAside: { messageId: string; body: string }[] = [];
    const restarted = createMemoryQueue({
      dedupeTtlSeconds: 60,
      maxUsers: 100,
      spill,
      redeliveryDelayMs: 10,
      decodeBody: () => {
        throw new Error('parser changed');
      },
      onUndecodable: async (entry) => {
        setAside.push(entry);
        if (setAside.length === 1) throw new Error('dead letters down');
      },
    });
    let handled = 0;
    restarted.consume(async () => {
      handled += 1;
    });
    expect(await restarted.drain(5000)).toBe(true);
    expect(setAside.map((entry) => [entry.messageId, entry.body])).toEqual([
      ['r1', raw],
      ['r1', raw],
    ]);
    expect(handled).toBe(0);
    await restarted.close();
    db.close();
  });
});
