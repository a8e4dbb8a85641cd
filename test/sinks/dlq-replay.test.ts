/**
 * A sink that refuses changes: they become a `sink` dead letter, and `npm run dlq -- replay` sends
 * them again later, as the users' current state, through real processes and a real downstream.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiverProcess } from '../../bench/receiver-process.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { runDlqCli } from '../cli/run-dlq.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { startDownstream } from './downstream.ts';

/** Runs `npm run dlq -- <args>` and returns its exit code and all it printed. */
async function dlq(args: string[], env: Record<string, string>) {
  const { code, stdout, stderr } = await runDlqCli(args, { LOG_LEVEL: 'silent', ...env });
  return { code, output: stdout + stderr };
}

describe('npm run dlq with sink letters', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps the changes a sink refused as a letter, and replays them as the users’ current state', async () => {
    const dir: TempDir = await createTempDir('sinks-dlq');
    cleanups.push(() => dir.remove());
    // The downstream refuses the first request for good (400), then takes everything.
    const downstream = await startDownstream((_request, index) => ({ status: index === 0 ? 400 : 200 }));
    cleanups.push(() => downstream.close());
    const env = {
      SQLITE_PATH: join(dir.path, 'cohorts.db'),
      STORE: 'sqlite',
      SINKS: 'http',
      SINK_HTTP_URL: downstream.url,
      SINK_HTTP_CONCURRENCY: '1',
    };
    const receiver = await startReceiverProcess({ env });
    cleanups.push(async () => {
      receiver.child.kill('SIGTERM');
      await receiver.exited;
    });
    const post = (body: Record<string, unknown>) =>
      fetch(`${receiver.url}/webhook`, {
        method: 'POST',
        body: JSON.stringify({ cohort_name: 'Trial', cohort_id: 'trial', ...body }),
      });

    await post({
      in_cohort: true,
      computed_time: '100',
      message_id: 'm-100',
      users: [{ user_id: 'u1' }, { user_id: 'u2' }],
    });
    await receiver.waitForLog('sink send failed on every attempt; changes set aside as a dead letter');
    // Since then u1 left, and the downstream heard it.
    await post({ in_cohort: false, computed_time: '200', message_id: 'm-200', users: [{ user_id: 'u1' }] });
    await downstream.waitFor(() => downstream.accepted().length === 1);

    const listed = await dlq(['list', '--kind', 'sink'], env);
    expect(listed.code).toBe(0);
    expect(listed.output).toContain('answered 400');
    const replay = await dlq(['replay', '--all', '--kind', 'sink'], env);
    expect(replay.code, replay.output).toBe(0);
    expect((await dlq(['list', '--kind', 'sink'], env)).output).toContain('no letters');

    const delivered = downstream
      .accepted()
      .flatMap((request) => (request.body as { changes: WireChange[] }).changes)
      .map(({ user_id, in_cohort, message_id, restated }) => ({ user_id, in_cohort, message_id, restated }));
    // The letter said "u1 entered"; replayed as it stood, it would have put u1 back in.
    expect(delivered).toEqual([
      { user_id: 'u1', in_cohort: false, message_id: 'm-200', restated: false },
      { user_id: 'u1', in_cohort: false, message_id: 'm-200', restated: true },
      { user_id: 'u2', in_cohort: true, message_id: 'm-100', restated: true },
    ]);
  });
});
