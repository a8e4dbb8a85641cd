import { describe, expect, it } from 'vitest';
import { amplitudeBatch, createHarness } from './app-harness.ts';

const membersOf = async (harness: ReturnType<typeof createHarness>, cohortId = 'q3k9xw1') => {
  const response = await harness.app.request(`/cohorts/${cohortId}/members?limit=1000`);
  const body = (await response.json()) as { members: { user_id: string; since: number }[] };
  return body.members.map((member) => member.user_id);
};

const metricValue = async (harness: ReturnType<typeof createHarness>, series: string) => {
  const text = await harness.metrics.registry.metrics();
  const line = text.split('\n').find((row) => row.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('POST /webhook', () => {
  it('answers 200 "accepted" with the user count and applies the users after the answer', async () => {
    const harness = createHarness();
    const batch = amplitudeBatch();
    const response = await harness.post(batch);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'accepted', message_id: batch.message_id, users: 2 });
    await harness.settle();
    expect(await membersOf(harness)).toEqual(['user-1', 'user-2']);
  });

  it('does not touch the store before answering: batches wait in the queue until the worker runs', async () => {
    const harness = createHarness({ consume: false });
    expect((await harness.post(amplitudeBatch())).status).toBe(200);
    expect(await membersOf(harness)).toEqual([]);
    expect((await harness.queue.stats()).users).toBe(2);
  });

  it('answers 200 "duplicate" and applies nothing when a message_id repeats, even after a newer message', async () => {
    const harness = createHarness();
    const add = amplitudeBatch({ computed_time: '100' });
    await harness.post(add);
    const remove = amplitudeBatch({ computed_time: '200', in_cohort: false, users: [{ user_id: 'user-1' }] });
    await harness.post(remove);
    await harness.settle();
    const again = await harness.post(add);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ status: 'duplicate', message_id: add.message_id });
    await harness.settle();
    expect(await membersOf(harness)).toEqual(['user-2']);
    expect(await metricValue(harness, 'cohort_receiver_batches_total{outcome="duplicate"')).toBe(1);
  });

  it('leaves a user out when a removal arrives before an older add', async () => {
    const harness = createHarness();
    await harness.post(
      amplitudeBatch({ computed_time: '200', in_cohort: false, users: [{ user_id: 'user-1' }] }),
    );
    await harness.post(amplitudeBatch({ computed_time: '100', users: [{ user_id: 'user-1' }] }));
    await harness.settle();
    expect(await membersOf(harness)).toEqual([]);
  });

  it('accepts computed_time as a number as well as a string', async () => {
    const harness = createHarness();
    const response = await harness.post(amplitudeBatch({ computed_time: 1692206763 }));
    expect(response.status).toBe(200);
    await harness.settle();
    const body = (await (await harness.app.request('/cohorts/q3k9xw1/members')).json()) as {
      members: { since: number }[];
    };
    expect(body.members[0]?.since).toBe(1692206763);
  });

  it('answers 400 invalid_json, quarantines the body, counts and logs it', async () => {
    const harness = createHarness();
    const response = await harness.post('{"cohort_id": "q3k9xw1", ');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; detail: string };
    expect(body.error).toBe('invalid_json');
    expect(body.detail).toMatch(/JSON/);
    const [letter] = await harness.deadLetters.list({ kind: 'rejected' });
    expect(letter?.body).toBe('{"cohort_id": "q3k9xw1", ');
    expect(letter?.reason).toMatch(/^invalid_json/);
    expect(
      await metricValue(harness, 'cohort_receiver_batches_total{outcome="rejected",reason="invalid_json"}'),
    ).toBe(1);
    expect(harness.logLines.some((line) => line.status === 400 && line.reason === 'invalid_json')).toBe(true);
  });

  it('answers 400 invalid_json for a body that is not UTF-8', async () => {
    const harness = createHarness();
    const response = await harness.app.request('/webhook', {
      method: 'POST',
      body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid_json', detail: 'body is not valid UTF-8' });
  });

  it('answers 422 invalid_payload naming each problem, and quarantines the body', async () => {
    const harness = createHarness();
    const response = await harness.post({ cohort_id: 'c', in_cohort: 'yes', users: [{ name: 'x' }] });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: string; issues: { path: string; message: string }[] };
    expect(body.error).toBe('invalid_payload');
    const paths = body.issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['in_cohort', 'message_id', 'users.0.user_id']));
    expect(await harness.deadLetters.list({ kind: 'rejected' })).toHaveLength(1);
    expect(await membersOf(harness)).toEqual([]);
  });

  it('answers 413 payload_too_large with the limit when Content-Length is over it', async () => {
    const harness = createHarness({ maxBodyBytes: 100 });
    const response = await harness.post(amplitudeBatch({ cohort_name: 'x'.repeat(200) }));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'payload_too_large', limit: 100 });
  });

  it('answers 413 for an oversized body that declares no length', async () => {
    const harness = createHarness({ maxBodyBytes: 1000 });
    const chunk = new TextEncoder().encode('x'.repeat(600));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 5; i += 1) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await harness.app.request('/webhook', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('answers 503 with Retry-After when the queue is full, and 200 again once it drained', async () => {
    const harness = createHarness({ maxUsers: 3, consume: false });
    expect((await harness.post(amplitudeBatch())).status).toBe(200);
    const full = amplitudeBatch();
    const refused = await harness.post(full);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toEqual({ error: 'unavailable', reason: 'queue_full' });
    expect(
      await metricValue(harness, 'cohort_receiver_batches_total{outcome="unavailable",reason="queue_full"}'),
    ).toBe(1);
    // The refused message_id was not remembered: Amplitude's retry must be accepted.
    harness.startWorker();
    await harness.settle();
    const retried = await harness.post(full);
    expect(await retried.json()).toMatchObject({ status: 'accepted' });
  });

  it('answers 503 shutting_down once the queue stops accepting', async () => {
    const harness = createHarness();
    harness.queue.stopAccepting();
    const response = await harness.post(amplitudeBatch());
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: 'unavailable', reason: 'shutting_down' });
  });

  it('writes one log line per request with message_id, cohort_id and outcome', async () => {
    const harness = createHarness();
    const batch = amplitudeBatch();
    await harness.post(batch);
    const requestLines = harness.logLines.filter((line) => line.msg === 'request');
    expect(requestLines).toHaveLength(1);
    expect(requestLines[0]).toMatchObject({
      path: '/webhook',
      status: 200,
      message_id: batch.message_id,
      cohort_id: 'q3k9xw1',
      outcome: 'accepted',
      users: 2,
    });
  });
});

describe('other methods on the webhook path', () => {
  it('answer 405 with Allow: POST and a JSON reason, logged and counted like any rejection', async () => {
    const harness = createHarness({ tokens: ['secret'] });
    // Before auth: the answer tells a misconfigured sender what to send and reveals nothing else.
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await harness.app.request('/webhook', { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow'), method).toBe('POST');
      expect(response.headers.get('content-type'), method).toMatch(/^application\/json/);
      expect(await response.json(), method).toEqual({ error: 'method_not_allowed', allowed: ['POST'] });
    }
    const head = await harness.app.request('/webhook', { method: 'HEAD' });
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'POST']);
    const rejected = harness.logLines.filter((line) => line.reason === 'method_not_allowed');
    expect(rejected.map((line) => [line.method, line.status, line.msg])).toContainEqual([
      'GET',
      405,
      'request rejected',
    ]);
    expect(
      await metricValue(harness, 'cohort_receiver_http_requests_total{route="/webhook",status="405"}'),
    ).toBe(6);
    // POST still reaches the webhook, and other paths are still unknown.
    expect((await harness.post(amplitudeBatch(), { headers: { authorization: 'secret' } })).status).toBe(200);
    expect((await harness.app.request('/webhook/x')).status).toBe(404);
  });

  it('stay 404 in a worker process, which has no webhook route', async () => {
    const harness = createHarness({ receiveWebhooks: false });
    const response = await harness.app.request('/webhook');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found' });
    expect((await harness.post(amplitudeBatch())).status).toBe(404);
  });
});
