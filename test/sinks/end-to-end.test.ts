/**
 * The whole path in one process: webhook → memory queue → store → sinks → a real downstream HTTP
 * server, started the way `npm start` starts it (startReceiver with a loaded config).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { type Downstream, startDownstream } from './downstream.ts';

const cohort = (overrides: Record<string, unknown>) =>
  JSON.stringify({
    cohort_name: 'Trial ending soon',
    cohort_id: 'trial',
    in_cohort: true,
    computed_time: '100',
    users: [],
    ...overrides,
  });

const delivered = (downstream: Downstream) =>
  downstream.accepted().flatMap((request) => (request.body as { changes: WireChange[] }).changes);

describe('sinks end to end', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(downstream: Downstream, env: Record<string, string> = {}) {
    const dir: TempDir = await createTempDir('sinks-e2e');
    cleanups.push(() => dir.remove());
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      STORE: 'memory',
      SQLITE_PATH: `${dir.path}/cohorts.db`,
      SINKS: 'http',
      SINK_HTTP_URL: downstream.url,
      SINK_HTTP_CONCURRENCY: '1',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...env,
    });
    const receiver: RunningReceiver = await startReceiver(config, pino({ level: 'silent' }));
    cleanups.push(() => receiver.shutdown());
    const post = async (body: string) => {
      const started = performance.now();
      const response = await fetch(`${receiver.url}/webhook`, { method: 'POST', body });
      return { status: response.status, body: await response.json(), ms: performance.now() - started };
    };
    return { receiver, post };
  }

  it('forwards only effective changes: duplicates, stale messages and repeated adds produce none', async () => {
    const downstream = await startDownstream();
    cleanups.push(() => downstream.close());
    const { post } = await start(downstream);
    const users = (...ids: string[]) => ids.map((user_id) => ({ user_id, user_properties: { plan: 'pro' } }));

    const added = cohort({ message_id: 'm-a', computed_time: '100', users: users('u1', 'u2') });
    expect((await post(added)).body).toMatchObject({ status: 'accepted' });
    expect((await post(added)).body).toMatchObject({ status: 'duplicate' });
    // Older than what the register holds: loses, changes nothing.
    await post(
      cohort({ message_id: 'm-stale', computed_time: '90', in_cohort: false, users: users('u1', 'u2') }),
    );
    // u1 is already in with these properties: only u3 is news.
    await post(cohort({ message_id: 'm-c', computed_time: '110', users: users('u1', 'u3') }));
    await post(cohort({ message_id: 'm-d', computed_time: '120', in_cohort: false, users: users('u2') }));

    // The memory queue applies in order, so once m-d's change is downstream, all before it are.
    await downstream.waitFor(() => delivered(downstream).some((change) => change.message_id === 'm-d'));
    expect(delivered(downstream).map(({ user_id, kind, message_id }) => [user_id, kind, message_id])).toEqual(
      [
        ['u1', 'entered', 'm-a'],
        ['u2', 'entered', 'm-a'],
        ['u3', 'entered', 'm-c'],
        ['u2', 'left', 'm-d'],
      ],
    );
  });

  it('answers webhooks at once while the sink is stuck, 503 once the queue is full, and loses nothing', async () => {
    const downstream = await startDownstream(() => 'hang');
    cleanups.push(() => downstream.close());
    // A request the downstream leaves hanging fails after 2 s and is retried: long enough that few
    // attempts (and so short backoffs) pass before the downstream comes back, even on a busy machine.
    const { post } = await start(downstream, {
      QUEUE: 'memory',
      QUEUE_MAX_USERS: '4',
      SINK_HTTP_TIMEOUT_MS: '2000',
    });
    const batch = (index: number) =>
      cohort({
        message_id: `m-${index}`,
        computed_time: String(100 + index),
        users: [{ user_id: `a-${index}` }, { user_id: `b-${index}` }],
      });

    const first = await post(batch(1));
    await downstream.waitFor((requests) => requests.length > 0); // applied, now stuck in the sink
    const second = await post(batch(2));
    const third = await post(batch(3));

    expect([first.status, second.status, third.status]).toEqual([200, 200, 503]);
    expect(third.body).toEqual({ error: 'unavailable', reason: 'queue_full' });
    for (const answer of [first, second, third]) expect(answer.ms).toBeLessThan(1000);

    // The downstream comes back; Amplitude retries the 503.
    downstream.respondWith(() => ({ status: 200 }));
    await downstream.waitFor(() => delivered(downstream).length === 4, 20_000);
    expect((await post(batch(3))).status).toBe(200);
    await downstream.waitFor(() => delivered(downstream).length === 6);
    expect(new Set(delivered(downstream).map((change) => change.user_id))).toEqual(
      new Set(['a-1', 'b-1', 'a-2', 'b-2', 'a-3', 'b-3']),
    );
  });
});
