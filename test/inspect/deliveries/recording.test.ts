/**
 * What the inspector records from the events of the webhook, the worker and the sink dispatcher,
 * driven through the real app, memory queue, memory store and dispatcher (in-process, `app.request`).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../../src/core/dead-letters/memory.ts';
import { UnavailableError } from '../../../src/core/errors.ts';
import { createReceiverEvents } from '../../../src/core/events.ts';
import { createApp } from '../../../src/core/http/app.ts';
import { createQueuedBodyDecoder } from '../../../src/core/payload/decode-body.ts';
import { createBatchParser } from '../../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../../src/core/queue/memory.ts';
import type { Queue } from '../../../src/core/queue/queue.ts';
import { createSinkDispatcher } from '../../../src/core/sinks/dispatcher.ts';
import { SinkError } from '../../../src/core/sinks/sink.ts';
import { createMemoryStore } from '../../../src/core/store/memory.ts';
import { createWorker, storeApplier } from '../../../src/core/worker.ts';
import { createMemoryDeliveryLog } from '../../../src/inspect/deliveries/memory.ts';
import { recordDeliveries } from '../../../src/inspect/extension.ts';
import { amplitudeBatch } from '../../http/app-harness.ts';

function receiver(options: { queue?: Queue; maxBodyBytes?: number } = {}) {
  const logger = pino({ level: 'silent' });
  const queue = options.queue ?? createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: 1_000_000 });
  const store = createMemoryStore();
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 100 });
  const events = createReceiverEvents();
  const deliveryLog = createMemoryDeliveryLog();
  recordDeliveries(events, deliveryLog);
  const app = createApp({
    queue,
    deadLetters,
    events,
    logger,
    parseBatch: createBatchParser(),
    auth: { tokens: [], header: 'authorization' },
    webhook: { path: '/webhook', maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 },
  });
  const dispatcher = createSinkDispatcher({
    sinks: [
      { name: 'accepting', async send() {} },
      {
        name: 'refusing',
        async send() {
          throw new SinkError('HTTP 400 from the CRM', { retryable: false });
        },
      },
    ],
    deadLetters,
    logger,
    maxAttempts: 1,
    events,
  });
  const decode = createQueuedBodyDecoder();
  queue.consume(
    createWorker({
      apply: storeApplier(store, decode),
      decode,
      deadLetters,
      events,
      logger,
      onChanges: (changes, messageId) => dispatcher.dispatch(changes, messageId),
    }),
  );
  const post = (body: unknown) =>
    app.request('/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const settle = async () => {
    if (!(await queue.drain(10_000))) throw new Error('queue did not drain');
  };
  return { post, settle, deliveryLog, queue, deadLetters };
}

describe('recording deliveries', () => {
  it('records an accepted batch, then what the worker and each sink did with it', async () => {
    const { post, settle, deliveryLog } = receiver();
    const batch = amplitudeBatch({ users: [{ user_id: 'u-1' }, { user_id: 'u-2' }, { user_id: 'u-3' }] });
    expect((await post(batch)).status).toBe(200);
    await settle();
    const delivery = await deliveryLog.get(batch.message_id);
    expect(delivery).toMatchObject({
      messageId: batch.message_id,
      outcome: 'accepted',
      status: 200,
      cohortId: batch.cohort_id,
      cohortName: batch.cohort_name,
      inCohort: true,
      users: 3,
      userIds: ['u-1', 'u-2', 'u-3'],
      computedTime: Number(batch.computed_time),
      duplicates: 0,
      applied: { messageId: batch.message_id, entered: 3, left: 0, updated: 0, unchanged: 0 },
    });
    expect(delivery?.ackMs).toBeGreaterThan(0);
    expect(delivery?.receiver).toMatch(/-\d+$/);
    expect(delivery?.applied?.worker).toBe(delivery?.receiver);
    const sinks = [...(delivery?.applied?.sinks ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    expect(sinks).toEqual([
      { name: 'accepting', delivered: 3, failed: 0 },
      { name: 'refusing', delivered: 0, failed: 3, error: 'SinkError: HTTP 400 from the CRM' },
    ]);
  });

  it('keeps the first 20 user ids of a batch, in its order, on each of its rows', async () => {
    const { post, settle, deliveryLog } = receiver();
    const ids = Array.from({ length: 120 }, (_, i) => `user-${120 - i}`);
    const batch = amplitudeBatch({ users: ids.map((user_id) => ({ user_id })) });
    await post(batch);
    await post(batch);
    await settle();
    const { deliveries } = await deliveryLog.list({ limit: 10 });
    expect(deliveries.map((row) => [row.outcome, row.users, row.userIds])).toEqual([
      ['duplicate', 120, ids.slice(0, 20)],
      ['accepted', 120, ids.slice(0, 20)],
    ]);
  });

  it('keeps no more than 400 characters of user ids, however long they are', async () => {
    const { post, settle, deliveryLog } = receiver();
    const ids = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(150, 'x'));
    await post(amplitudeBatch({ users: ids.map((user_id) => ({ user_id })) }));
    await settle();
    const { deliveries } = await deliveryLog.list({ limit: 1 });
    expect(deliveries[0]?.userIds).toEqual(ids.slice(0, 2));
  });

  it('counts unchanged users when a batch repeats what the store holds', async () => {
    const { post, settle, deliveryLog } = receiver();
    await post(amplitudeBatch({ users: [{ user_id: 'u-1' }] }));
    const again = amplitudeBatch({
      users: [{ user_id: 'u-1' }, { user_id: 'u-2' }],
      computed_time: '1792206763',
    });
    await post(again);
    await settle();
    expect((await deliveryLog.get(again.message_id))?.applied).toMatchObject({ entered: 1, unchanged: 1 });
  });

  it('records a duplicate as its own row and counts it on the accepted one', async () => {
    const { post, settle, deliveryLog } = receiver();
    const batch = amplitudeBatch();
    await post(batch);
    expect(await (await post(batch)).json()).toMatchObject({ status: 'duplicate' });
    await settle();
    expect((await deliveryLog.get(batch.message_id))?.duplicates).toBe(1);
    const { deliveries } = await deliveryLog.list({ limit: 10, outcome: 'duplicate' });
    expect(deliveries.map((row) => [row.messageId, row.status, row.cohortId])).toEqual([
      [batch.message_id, 200, batch.cohort_id],
    ]);
  });

  it('records each rejection with its status and reason', async () => {
    const { post, deliveryLog } = receiver({ maxBodyBytes: 2000 });
    expect((await post('{not json')).status).toBe(400);
    expect((await post({ ...amplitudeBatch(), users: 'nobody' })).status).toBe(422);
    expect((await post({ ...amplitudeBatch(), padding: 'x'.repeat(3000) })).status).toBe(413);
    const { deliveries } = await deliveryLog.list({ limit: 10 });
    expect(deliveries.map((row) => [row.outcome, row.status, row.reason, row.messageId])).toEqual([
      ['rejected', 413, 'payload_too_large', null],
      ['rejected', 422, 'invalid_payload', null],
      ['rejected', 400, 'invalid_json', null],
    ]);
  });

  it('points a rejected delivery at the quarantined letter that holds its body', async () => {
    const { post, deliveryLog, deadLetters } = receiver();
    expect((await post('{not json')).status).toBe(400);
    const [row] = (await deliveryLog.list({ limit: 1 })).deliveries;
    const [letter] = await deadLetters.list({ kind: 'rejected' });
    expect(letter?.body).toBe('{not json');
    expect(row?.quarantineId).toBe(letter?.id);
  });

  it('records a 503 with its reason and the batch it refused', async () => {
    const queue = createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: 1_000_000 });
    const { post, deliveryLog } = receiver({ queue });
    queue.stopAccepting();
    const batch = amplitudeBatch();
    expect((await post(batch)).status).toBe(503);
    const [row] = (await deliveryLog.list({ limit: 1 })).deliveries;
    expect(row).toMatchObject({
      outcome: 'unavailable',
      status: 503,
      reason: new UnavailableError('shutting_down').reason,
      messageId: batch.message_id,
      cohortId: batch.cohort_id,
      userIds: ['user-1', 'user-2'],
    });
  });
});
