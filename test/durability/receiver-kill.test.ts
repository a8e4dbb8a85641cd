/**
 * kill -9 of a receiver while requests stream in: every batch that got its 200 must be applied after
 * a restart, with the durable SQLite inbox (QUEUE=redis: test/redis/receiver-kill.test.ts).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { inboxBeside } from '../../src/sqlite/extension.ts';
import { useKillHarness } from './kill-harness.ts';

const { start, streamThenKill, expectAllApplied, sqlitePath } = useKillHarness();

describe('kill -9 of a receiver, QUEUE=sqlite', () => {
  it('applies after a restart every batch that got a 200 before the kill', async () => {
    const env = { QUEUE: 'sqlite' };
    const accepted = await streamThenKill(await start(env), 40);
    // The inbox has its own file beside the store's.
    const db = new Database(inboxBeside(sqlitePath()), { readonly: true });
    const backlog = db.prepare('SELECT count(*) FROM queue_inbox').pluck().get() as number;
    db.close();
    expect(backlog).toBeGreaterThan(0); // the kill came while acknowledged batches still waited

    const restarted = await start(env);
    await expectAllApplied(restarted.url, accepted);
  });
});
