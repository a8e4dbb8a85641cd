import { describe, expect, it } from 'vitest';
import { amplitudeBatch, createHarness } from './app-harness.ts';

describe('read API', () => {
  const seeded = async () => {
    const harness = createHarness();
    const users = Array.from({ length: 25 }, (_, i) => ({
      user_id: `u${String(i).padStart(2, '0')}`,
      user_properties: { i },
    }));
    await harness.post(amplitudeBatch({ cohort_id: 'a', cohort_name: 'Alpha', computed_time: '10', users }));
    await harness.post(
      amplitudeBatch({ cohort_id: 'b', cohort_name: 'Beta', computed_time: '20', users: users.slice(0, 2) }),
    );
    await harness.post(
      amplitudeBatch({
        cohort_id: 'b',
        cohort_name: 'Beta',
        computed_time: '30',
        in_cohort: false,
        users: [{ user_id: 'u01' }],
      }),
    );
    await harness.settle();
    return harness;
  };

  it('lists cohorts with member counts, names and last update', async () => {
    const harness = await seeded();
    const body = await (await harness.app.request('/cohorts')).json();
    expect(body).toEqual({
      cohorts: expect.arrayContaining([
        { cohort_id: 'a', cohort_name: 'Alpha', members: 25, updated_at: 10 },
        { cohort_id: 'b', cohort_name: 'Beta', members: 1, updated_at: 30 },
      ]),
    });
  });

  it('pages through members with a cursor, each member exactly once, next_cursor null at the end', async () => {
    const harness = await seeded();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const response = await harness.app.request(`/cohorts/a/members?limit=10${query}`);
      const body = (await response.json()) as {
        cohort_id: string;
        members: { user_id: string; since: number; user_properties: unknown }[];
        next_cursor: string | null;
      };
      expect(body.cohort_id).toBe('a');
      seen.push(...body.members.map((member) => member.user_id));
      expect(body.members[0]).toMatchObject({ since: 10 });
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `u${String(i).padStart(2, '0')}`));
  });

  it('returns each member with the properties of the message that added them', async () => {
    const harness = await seeded();
    const body = (await (await harness.app.request('/cohorts/a/members?limit=1')).json()) as {
      members: unknown[];
    };
    expect(body.members).toEqual([{ user_id: 'u00', since: 10, user_properties: { i: 0 } }]);
  });

  it("lists a user's cohorts, leaving out those they left", async () => {
    const harness = await seeded();
    expect(await (await harness.app.request('/users/u01/cohorts')).json()).toEqual({
      user_id: 'u01',
      cohorts: [{ cohort_id: 'a', cohort_name: 'Alpha', since: 10 }],
    });
    expect(await (await harness.app.request('/users/u00/cohorts')).json()).toMatchObject({
      cohorts: expect.arrayContaining([{ cohort_id: 'b', cohort_name: 'Beta', since: 20 }]),
    });
  });

  it('answers 400 for a limit out of range', async () => {
    const harness = await seeded();
    for (const limit of ['0', '1001', 'ten', '1.5']) {
      const response = await harness.app.request(`/cohorts/a/members?limit=${limit}`);
      expect(response.status, limit).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_limit' });
    }
  });

  it('removes a cohort with DELETE: it leaves the lists, its members and the cohorts of its users', async () => {
    const harness = await seeded();
    const response = await harness.app.request('/cohorts/b', { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ cohort_id: 'b', removed: true });
    const { cohorts } = (await (await harness.app.request('/cohorts')).json()) as {
      cohorts: { cohort_id: string }[];
    };
    expect(cohorts.map((cohort) => cohort.cohort_id)).toEqual(['a']);
    expect(await (await harness.app.request('/cohorts/b/members')).json()).toMatchObject({ members: [] });
    expect(await (await harness.app.request('/users/u00/cohorts')).json()).toMatchObject({
      cohorts: [{ cohort_id: 'a' }],
    });
  });

  it('answers DELETE of a cohort the store does not hold with 404, and again once removed', async () => {
    const harness = await seeded();
    const missing = await harness.app.request('/cohorts/nope', { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', cohort_id: 'nope' });
    expect((await harness.app.request('/cohorts/a', { method: 'DELETE' })).status).toBe(200);
    expect((await harness.app.request('/cohorts/a', { method: 'DELETE' })).status).toBe(404);
  });

  it('removes a cohort only behind the shared secret', async () => {
    const harness = createHarness({ tokens: ['s3cret'] });
    await harness.post(amplitudeBatch({ cohort_id: 'kept' }), { headers: { authorization: 's3cret' } });
    await harness.settle();
    const refused = await harness.app.request('/cohorts/kept', { method: 'DELETE' });
    expect(refused.status).toBe(401);
    const listed = await harness.app.request('/cohorts', { headers: { authorization: 's3cret' } });
    expect(await listed.json()).toMatchObject({ cohorts: [{ cohort_id: 'kept' }] });
    const removed = await harness.app.request('/cohorts/kept', {
      method: 'DELETE',
      headers: { authorization: 'Bearer s3cret' },
    });
    expect(removed.status).toBe(200);
  });

  it('answers 404 with a JSON body for unknown routes', async () => {
    const harness = createHarness();
    const response = await harness.app.request('/nope');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found' });
  });
});

describe('probes and metrics', () => {
  it('answers /healthz and /readyz with 200 while the parts answer', async () => {
    const harness = createHarness();
    expect(await (await harness.app.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect(await (await harness.app.request('/readyz')).json()).toEqual({ status: 'ready' });
  });

  it('answers /readyz 503 with the reason when the queue cannot accept', async () => {
    const harness = createHarness();
    harness.queue.stopAccepting();
    const response = await harness.app.request('/readyz');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'unavailable', reasons: ['queue: shutting down'] });
  });

  it('exports the series the README documents, with values that follow the traffic', async () => {
    const harness = createHarness();
    await harness.post(amplitudeBatch());
    await harness.post('not json');
    await harness.settle();
    const text = await (await harness.app.request('/metrics')).text();
    for (const series of [
      'cohort_receiver_http_requests_total{route="/webhook",status="200"} 1',
      'cohort_receiver_http_requests_total{route="/webhook",status="400"} 1',
      'cohort_receiver_batches_total{outcome="accepted",reason=""} 1',
      'cohort_receiver_users_total{direction="in"} 2',
      'cohort_receiver_applied_users_total 2',
      'cohort_receiver_membership_changes_total{kind="entered"} 2',
      'cohort_receiver_dead_letters_total{kind="rejected"} 1',
      'cohort_receiver_queue_batches 0',
      'cohort_receiver_queue_users 0',
      'cohort_receiver_queue_oldest_age_seconds 0',
      'cohort_receiver_ack_duration_seconds_count 1',
      'cohort_receiver_apply_lag_seconds_count 1',
    ]) {
      expect(text).toContain(series);
    }
    expect(text).toContain('# TYPE cohort_receiver_apply_errors_total counter');
  });
});
