/** QUEUE=memory closing with a backlog: what it did not apply goes to the SQLite file, and comes back first. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { HandOver, QueuedBatch } from '../../src/core/queue/queue.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteSpill } from '../../src/sqlite/memory-spill.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const batch = (messageId: string, users = 2): QueuedBatch => ({
  messageId,
  users,
  body: JSON.stringify({
    cohort_id: 'c',
    cohort_name: 'C',
    in_cohort: true,
    computed_time: '1',
    message_id: messageId,
    users: Array.from({ length: users }, (_, i) => ({ user_id: `${messageId}-u${i}` })),
  }),
  receivedAt: 5,
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
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, spill: createSqliteSpill(first) });
    const handled: string[] = [];
    // The first batch is applied; the second is in flight at the close and never finishes; the rest wait.
    queue.consume(async (b) => {
      if (b.messageId !== 'm1') await new Promise(() => {});
      handled.push(b.messageId);
    });
    await queue.accept(batch('m1'));
    await queue.accept(batch('m2'));
    await queue.accept(batch('m3', 1));
    await queue.accept(batch('m4', 3));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual(['m1']);
    await queue.close();
    first.close();

    const second = openSqliteDatabase(path);
    const spill = createSqliteSpill(second);
    expect(spill.load().map((kept) => [kept.messageId, kept.users, kept.body, kept.receivedAt])).toEqual(
      ['m2', 'm3', 'm4'].map((id, index) => [id, [2, 1, 3][index], batch(id, [2, 1, 3][index]).body, 5]),
    );
    const restarted = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100, spill });
    expect(await restarted.stats()).toMatchObject({ batches: 3, users: 6 });
    // Its message_ids are remembered: a resend of a kept batch is a duplicate.
    expect(await restarted.accept(batch('m2'))).toBe('duplicate');
    await restarted.accept(batch('m5'));
    const delivered: [QueuedBatch, HandOver][] = [];
    restarted.consume(async (b, handOver) => {
      delivered.push([b, handOver]);
    });
    expect(await restarted.drain(5000)).toBe(true);
    expect(delivered.map(([b, handOver]) => [b.messageId, handOver.attempt])).toEqual([
      ['m2', 2],
      ['m3', 2],
      ['m4', 2],
      ['m5', 1],
    ]);
    expect(delivered[1]?.[0]).toEqual(batch('m3', 1));
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
      handled.push(`${b.messageId}:${b.users}`);
    });
    expect(await next.drain(5000)).toBe(true);
    expect(handled).toEqual(['r1:2', 'r2:3']);
    await next.close();
    second.close();
  });

  it("reads a batch an earlier release kept as JSON as the same batch in Amplitude's default shape", async () => {
    dir = await createTempDir('memory-spill');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    const spill = createSqliteSpill(db);
    const kept = {
      cohortId: 'c',
      cohortName: 'C',
      inCohort: false,
      computedTime: 9,
      messageId: 'old-1',
      users: [{ userId: 'x', properties: { plan: 'pro' } }, { userId: 'y' }],
    };
    db.prepare(
      "INSERT INTO queue_memory_spill (message_id, users, accepted_at, format, received_at, body) VALUES ('old-1', 2, 1, 'batch', 1, ?)",
    ).run(JSON.stringify(kept));
    const [read] = spill.load();
    expect(createQueuedBodyDecoder()(read?.body ?? '', 1)).toEqual(kept);
    db.close();
  });
});
