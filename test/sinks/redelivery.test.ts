/**
 * A worker killed after the store committed but before the sinks had the changes: the durable queue
 * delivers the batch again (attempt > 1), the apply changes nothing, and the store restates what the
 * batch's users hold, so every change still reaches the sink.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiverProcess } from '../../bench/receiver-process.ts';
import type { CohortBatch } from '../../src/core/batch.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import type { ApplyOptions, MembershipChange } from '../../src/core/store/store.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { createHttpSink, type WireChange } from '../../src/sinks/http.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, redisUrl } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { queuedBatch } from './changes.ts';
import { type Downstream, startDownstream } from './downstream.ts';

const delivered = (downstream: Downstream) =>
  downstream.accepted().flatMap((request) => (request.body as { changes: WireChange[] }).changes);

/** The state a downstream that treats each change as "set state" ends with: user → in? */
const downstreamState = (downstream: Downstream) =>
  new Map(delivered(downstream).map((change) => [change.user_id, change.in_cohort]));

describe('redelivery after a crash between commit and sink', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const tempDir = async () => {
    const dir: TempDir = await createTempDir('sinks-redelivery');
    cleanups.push(() => dir.remove());
    return dir.path;
  };

  it('restates the committed batch on its next delivery, and the sink gets every change', async () => {
    const path = join(await tempDir(), 'cohorts.db');
    const events = createReceiverEvents();
    const metrics = createMetrics({ events });
    const decode = createQueuedBodyDecoder();
    const deps = {
      decode,
      deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
      events,
      logger: pino({ level: 'silent' }),
    };
    const added = cohortBatch({
      messageId: 'm-100',
      users: [{ userId: 'u1', properties: { plan: 'pro' } }, ...usersOf('u2', 'u3')],
    });
    const removed = cohortBatch({
      messageId: 'm-200',
      computedTime: 200,
      inCohort: false,
      users: usersOf('u2'),
    });

    // First life: the batch commits, then the sink never answers and the process dies.
    const firstDb = openSqliteDatabase(path);
    let handedToSink: (() => void) | undefined;
    const stuckInSink = new Promise<void>((resolve) => {
      handedToSink = resolve;
    });
    const firstWorker = createWorker({
      ...deps,
      apply: storeApplier(createSqliteStore(firstDb), decode),
      onChanges: () => {
        handedToSink?.();
        return new Promise(() => {});
      },
    });
    void firstWorker(queuedBatch(added), { attempt: 1, acceptedAt: Date.now() });
    await stuckInSink;
    firstDb.close(); // the process is gone; the queue still holds the batch, unacknowledged

    // Second life: a newer batch got applied and delivered first (another worker), then the queue
    // delivers the first batch again.
    const downstream = await startDownstream();
    cleanups.push(() => downstream.close());
    const secondDb = openSqliteDatabase(path);
    cleanups.push(async () => secondDb.close());
    const dispatcher = createSinkDispatcher({
      ...deps,
      sinks: [createHttpSink({ url: downstream.url, concurrency: 2 })],
    });
    cleanups.push(() => dispatcher.close());
    const changesSeen: MembershipChange[][] = [];
    const secondWorker = createWorker({
      ...deps,
      apply: storeApplier(createSqliteStore(secondDb), decode),
      onChanges: async (changes, messageId) => {
        changesSeen.push(changes);
        await dispatcher.dispatch(changes, messageId);
      },
    });
    await secondWorker(queuedBatch(removed), { attempt: 1, acceptedAt: Date.now() });
    await secondWorker(queuedBatch(added), { attempt: 2, acceptedAt: Date.now() });

    expect(changesSeen[1]?.every((change) => change.restated)).toBe(true);
    expect(downstreamState(downstream)).toEqual(
      new Map([
        ['u1', true],
        ['u2', false],
        ['u3', true],
      ]),
    );
    expect(delivered(downstream).find((change) => change.user_id === 'u1')?.user_properties).toEqual({
      plan: 'pro',
    });
    // Restated changes are not new changes: the metric counts the first life's three entries and u2
    // leaving, nothing for the restate.
    const text = await metrics.registry.metrics();
    expect(text).toContain('cohort_receiver_membership_changes_total{kind="entered"} 3');
    expect(text).toContain('cohort_receiver_membership_changes_total{kind="left"} 1');
  });

  it('restates when a retry follows a failed apply whose commit may have landed', async () => {
    const db = openSqliteDatabase(':memory:');
    cleanups.push(async () => db.close());
    const real = createSqliteStore(db);
    let calls = 0;
    const seen: MembershipChange[][] = [];
    const decode = createQueuedBodyDecoder();
    const store = {
      ...real,
      // The first commit lands, but its answer is lost (a dropped connection to Postgres, say).
      async applyBatch(batch: CohortBatch, options?: ApplyOptions) {
        calls += 1;
        const changes = await real.applyBatch(batch, options);
        if (calls === 1) throw new Error('connection lost after COMMIT');
        return changes;
      },
    };
    const worker = createWorker({
      apply: storeApplier(store, decode),
      decode,
      deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
      events: createReceiverEvents(),
      logger: pino({ level: 'silent' }),
      backoffMs: () => 1,
      onChanges: async (changes) => {
        seen.push(changes);
      },
    });
    await worker(queuedBatch(cohortBatch({ users: usersOf('u1') })), { attempt: 1, acceptedAt: Date.now() });
    expect(seen).toEqual([[expect.objectContaining({ userId: 'u1', kind: 'entered', restated: true })]]);
  });

  it('QUEUE=sqlite: a receiver killed with SIGKILL while stuck in the sink delivers every change after a restart', async () => {
    await killStuckInSinkThenRestart(
      { QUEUE: 'sqlite', SQLITE_PATH: join(await tempDir(), 'cohorts.db') },
      cleanups,
    );
  });
});

await describeWithService('redis', 'redelivery after a crash between commit and sink, QUEUE=redis', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a worker killed with SIGKILL while stuck in the sink: another claims the batch and every change arrives', async () => {
    const dir: TempDir = await createTempDir('sinks-redelivery-redis');
    const keyPrefix = randomKeyPrefix('sinks');
    cleanups.push(
      () => dir.remove(),
      () => deleteKeysUnder(redisUrl, keyPrefix),
    );
    await killStuckInSinkThenRestart(
      {
        QUEUE: 'redis',
        REDIS_URL: redisUrl,
        KEY_PREFIX: keyPrefix,
        // The dead worker's entries are claimed once they sat this long without a heartbeat.
        REDIS_CLAIM_IDLE_MS: '500',
        SQLITE_PATH: join(dir.path, 'cohorts.db'),
      },
      cleanups,
    );
  });
});

/**
 * Starts a receiver whose downstream never answers, posts two batches, waits until the first one's
 * changes are in a request (so the store has committed it), kills the process with SIGKILL, starts
 * it again with a working downstream, and checks every user ends in the right state downstream.
 */
async function killStuckInSinkThenRestart(
  queueEnv: Record<string, string>,
  cleanups: (() => Promise<unknown>)[],
) {
  const stuck = await startDownstream(() => 'hang');
  cleanups.push(() => stuck.close());
  const env = {
    ...queueEnv,
    STORE: 'sqlite',
    SINKS: 'http',
    SINK_HTTP_CONCURRENCY: '1',
    SINK_HTTP_TIMEOUT_MS: '60000',
  };
  const first = await startReceiverProcess({ env: { ...env, SINK_HTTP_URL: stuck.url } });
  cleanups.push(async () => {
    first.child.kill('SIGKILL');
    await first.exited;
  });
  const post = (url: string, body: Record<string, unknown>) =>
    fetch(`${url}/webhook`, {
      method: 'POST',
      body: JSON.stringify({ cohort_name: 'Trial', cohort_id: 'trial', ...body }),
    });
  const answers = [
    await post(first.url, {
      in_cohort: true,
      computed_time: '100',
      message_id: 'm-100',
      users: [{ user_id: 'u1' }, { user_id: 'u2' }, { user_id: 'u3' }],
    }),
    await post(first.url, {
      in_cohort: false,
      computed_time: '200',
      message_id: 'm-200',
      users: [{ user_id: 'u2' }],
    }),
  ];
  expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
  // The first batch is committed and its changes are in a request the downstream never answers.
  await stuck.waitFor((requests) => requests.length > 0);
  first.child.kill('SIGKILL');
  await first.exited;

  const downstream = await startDownstream();
  cleanups.push(() => downstream.close());
  const second = await startReceiverProcess({ env: { ...env, SINK_HTTP_URL: downstream.url } });
  cleanups.push(async () => {
    second.child.kill('SIGTERM');
    await second.exited;
  });
  const expected = new Map([
    ['u1', true],
    ['u2', false],
    ['u3', true],
  ]);
  await downstream.waitFor(() => {
    const state = downstreamState(downstream);
    return [...expected].every(([userId, inCohort]) => state.get(userId) === inCohort);
  });
  expect(downstreamState(downstream)).toEqual(expected);
  // The first batch reached the downstream only through the restate of its second delivery.
  expect(delivered(downstream).some((change) => change.message_id === 'm-100' && change.restated)).toBe(true);
}
