/**
 * Read-your-writes: `?after=<message_id>` on the read API answers once that accepted batch was
 * applied, although apply is asynchronous. A real receiver on a SQLite file the test locks for real
 * (a write transaction of its own), so the apply waits as long as the test says.
 */
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/core/http/app-env.ts';
import { errorAnswer } from '../../src/core/http/error-answer.ts';
import { readAfter } from '../../src/core/http/read-after.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import type { Queue } from '../../src/core/queue/queue.ts';
import { connectRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { createRedisQueue } from '../../src/redis/queue.ts';
import { startPrivateRedis } from '../faults/redis-server.ts';
import { amplitudeBody, scrapeMetrics, startTestReceiver, type TestReceiver } from '../hardening/receiver.ts';
import { createTempDir } from '../support/tmp.ts';

let receiver: TestReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

const post = (url: string, body: string) =>
  fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('GET …?after=<message_id>', () => {
  it('answers once the batch is applied, not before, on both read routes', async () => {
    receiver = await startTestReceiver();
    const { url } = receiver;
    const lock = new Database(receiver.sqlitePath);
    // A write transaction of another connection: the store's commit waits until it ends.
    lock.exec('BEGIN IMMEDIATE');
    let released = false;
    try {
      const body = amplitudeBody('after-1', ['u1', 'u2'], { cohort_id: 'c1' });
      expect((await post(url, body)).status).toBe(200);
      const members = fetch(`${url}/cohorts/c1/members?after=after-1`).then(async (response) => ({
        released,
        status: response.status,
        body: (await response.json()) as { members: { user_id: string }[] },
      }));
      const cohorts = fetch(`${url}/users/u1/cohorts?after=after-1`).then(async (response) => ({
        released,
        body: (await response.json()) as { cohorts: unknown[] },
      }));
      // Time for a read that does not wait to answer (with nothing applied) before the release.
      await new Promise((resolve) => setTimeout(resolve, 300));
      released = true;
      lock.exec('ROLLBACK');
      const read = await members;
      expect(read.released, 'answered while the batch could not be applied').toBe(true);
      expect(read.status).toBe(200);
      expect(read.body.members.map((member) => member.user_id)).toEqual(['u1', 'u2']);
      const userRead = await cohorts;
      expect(userRead.released).toBe(true);
      expect(userRead.body.cohorts).toHaveLength(1);
    } finally {
      if (!released) lock.exec('ROLLBACK');
      lock.close();
    }
  });

  it('answers 409 unknown_message_id, with a log line and a metric, for a message never accepted', async () => {
    receiver = await startTestReceiver();
    const response = await fetch(`${receiver.url}/cohorts/c1/members?after=never-sent`);
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: 'unknown_message_id',
      message_id: 'never-sent',
      detail: expect.stringContaining('no batch with this message_id was accepted'),
    });
    const line = await receiver.waitForLog((entry) => entry.msg === 'request rejected');
    expect(line).toMatchObject({ status: 409, reason: 'unknown_message_id', after: 'never-sent' });
    const metrics = await scrapeMetrics(receiver.url);
    const rejected = [...metrics].filter(
      ([series]) => series.includes('http_requests_total') && series.includes('status="409"'),
    );
    expect(rejected.map(([, value]) => value)).toEqual([1]);
  });

  it('answers 400 for an empty after', async () => {
    receiver = await startTestReceiver();
    const response = await fetch(`${receiver.url}/users/u1/cohorts?after=`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_after' });
  });
});

/** A read route behind `readAfter(queue, timeoutMs)`, answered as the receiver answers errors. */
function readBehindAfter(queue: Queue, timeoutMs: number) {
  const app = new Hono<AppEnv>()
    .use(async (c, next) => {
      c.set('logLine', {});
      await next();
    })
    .use(readAfter(queue, timeoutMs))
    .get('/read', (c) => c.json({ read: true }));
  app.onError(errorAnswer({ logger: pino({ level: 'silent' }) }));
  return app;
}

describe('readAfter', () => {
  it('answers 409 not_applied_yet when the batch is still waiting once the bound passed', async () => {
    // Nothing consumes this queue: what it accepts waits for good.
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 100 });
    await queue.accept({ messageId: 'stuck', users: 1, body: '{}', receivedAt: 0 });
    const app = readBehindAfter(queue, 50);
    const response = await app.request('/read?after=stuck');
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: 'not_applied_yet',
      message_id: 'stuck',
      detail: 'accepted, not applied within 0.05 s; ask again',
    });
    expect(await (await app.request('/read')).json()).toEqual({ read: true });
    await queue.close();
  });

  it('answers 503 backend_unavailable with Retry-After, not 500, when the queue cannot say', async () => {
    const dir = await createTempDir('read-after-redis');
    const server = await startPrivateRedis(dir.path);
    const redis = connectRedis(server.url);
    try {
      await waitUntilReady(redis, 2000);
      const queue = createRedisQueue({ redis, keyPrefix: 'read-after', dedupeTtlSeconds: 60, maxUsers: 100 });
      await queue.accept({ messageId: 'm-1', users: 1, body: '{}', receivedAt: 0 });
      await server.stop();
      const response = await readBehindAfter(queue, 1000).request('/read?after=m-1');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toEqual({ error: 'unavailable', reason: 'backend_unavailable' });
      await queue.close();
    } finally {
      redis.disconnect();
      await server.stop();
      await dir.remove();
    }
  });
});
