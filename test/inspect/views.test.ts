import { describe, expect, it } from 'vitest';
import { keptBody } from '../../src/core/dead-letters/dead-letters.ts';
import { queued } from '../support/cohort-batch.ts';
import { createInspectorHarness, textOf } from './harness.ts';

async function loggedIn(options: Parameters<typeof createInspectorHarness>[0] = {}) {
  const h = createInspectorHarness(options);
  const { cookie } = await h.login();
  return { ...h, get: (path: string) => h.request(path, { cookie }), cookie };
}

describe('overview', () => {
  it('shows the counters /metrics exports, since start and for the last hour, and the mode', async () => {
    const h = await loggedIn();
    h.metrics.batches.inc({ outcome: 'accepted', reason: '' }, 5);
    h.metrics.batches.inc({ outcome: 'rejected', reason: 'invalid_payload' }, 2);
    await h.inspector.sample();
    h.advance(61 * 60 * 1000);
    await h.inspector.sample();
    h.metrics.batches.inc({ outcome: 'accepted', reason: '' }, 3);
    h.metrics.changes.inc({ kind: 'entered' }, 7);
    await h.queue.accept(queued(h.batch()));
    h.deliveryLog.recordReceipt(h.receipt({ receivedAt: h.now() - 5000 }));
    const html = await textOf(await h.get('/inspect'));
    const row = (label: string) =>
      new RegExp(`<td>${label}</td><td class="num">(\\d+)</td><td class="num">(\\d+)</td>`)
        .exec(html)
        ?.slice(1);
    expect(row('accepted')).toEqual(['8', '3']);
    expect(row('rejected')).toEqual(['2', '0']);
    expect(row('  · invalid_payload')).toEqual(['2', '0']);
    expect(row('received batches')).toEqual(['10', '3']);
    expect(row('entered \\(membership changes\\)')).toEqual(['7', '7']);
    expect(html).toContain('QUEUE=memory · STORE=memory · ROLE=all');
    expect(html).toContain('9.9.9-test');
    expect(html).toContain('<dt>uptime</dt><dd>1 h 1 min</dd>');
    expect(html).toContain('last hour from 2023-11-14 22:13:20.000Z');
    expect(html).toMatch(/<b>1<\/b><span>batches waiting \(2 users\)/);
    expect(html).toContain('since the last batch (2023-11-14 23:14:15.000Z)');
  });

  it('says what it cannot read instead of failing the page', async () => {
    const h = await loggedIn({ queue: { stats: () => Promise.reject(new Error('redis down')) } });
    expect(await textOf(await h.get('/inspect'))).toContain('redis down');
  });
});

describe('deliveries', () => {
  it('lists newest first, filters by outcome, cohort, direction and time, and pages with a cursor', async () => {
    const h = await loggedIn();
    const t0 = h.now();
    for (let i = 0; i < 60; i += 1) {
      h.deliveryLog.recordReceipt(
        h.receipt({ messageId: `msg-${i}`, receivedAt: t0 + i * 1000, inCohort: i % 2 === 0 }),
      );
    }
    h.deliveryLog.recordReceipt(
      h.receipt({
        messageId: null,
        outcome: 'rejected',
        status: 422,
        reason: 'invalid_payload',
        cohortId: 'c2',
        receivedAt: t0 + 61_000,
      }),
    );
    await h.deliveryLog.flush();
    const first = await textOf(await h.get('/inspect/deliveries'));
    const ids = [...first.matchAll(/message_id=(msg-\d+)/g)].map((m) => m[1]);
    expect(ids[0]).toBe('msg-59');
    expect(ids).toHaveLength(49);
    const older = /rel="next" href="([^"]+)"/.exec(first)?.[1]?.replaceAll('&amp;', '&') ?? '';
    const second = await textOf(await h.get(older));
    expect([...second.matchAll(/message_id=(msg-\d+)/g)].map((m) => m[1])).toEqual(
      Array.from({ length: 11 }, (_, i) => `msg-${10 - i}`),
    );
    const rejected = await textOf(await h.get('/inspect/deliveries?outcome=rejected'));
    expect(rejected).toContain('rejected 422 invalid_payload');
    expect(rejected).not.toContain('msg-');
    const byCohort = await textOf(await h.get('/inspect/deliveries?cohort=c2'));
    expect(byCohort).toContain('(c2)');
    expect(byCohort).not.toContain('(c1)');
    const out = await textOf(await h.get('/inspect/deliveries?direction=out'));
    expect([...out.matchAll(/message_id=(msg-\d+)/g)].every((m) => Number(m[1]?.slice(4)) % 2 === 1)).toBe(
      true,
    );
    const from = new Date(t0 + 50_000).toISOString();
    const to = new Date(t0 + 53_000).toISOString();
    const window = await textOf(await h.get(`/inspect/deliveries?from=${from}&to=${to}`));
    expect([...window.matchAll(/message_id=(msg-\d+)/g)].map((m) => m[1])).toEqual([
      'msg-52',
      'msg-51',
      'msg-50',
    ]);
  });

  it('refuses a filter it cannot read with 400', async () => {
    const h = await loggedIn();
    for (const query of ['outcome=maybe', 'direction=sideways', 'from=yesterday']) {
      const response = await h.request(`/inspect/deliveries?${query}`, {
        cookie: h.cookie,
        headers: { accept: '*/*' },
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_filter' });
    }
  });

  it('finds a delivery by message_id: received, ack, outcome, users, computed_time, duplicates, applied changes, sinks', async () => {
    const h = await loggedIn();
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'exact-1', ackMs: 2.25, users: 3 }));
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'exact-1', outcome: 'duplicate' }));
    h.deliveryLog.recordApplied({
      messageId: 'exact-1',
      appliedAt: h.now() + 1500,
      lagMs: 1500,
      entered: 2,
      left: 0,
      unchanged: 1,
      sinks: [{ name: 'http', delivered: 1, failed: 1, error: 'HTTP 500' }],
      worker: 'worker-7',
    });
    await h.deliveryLog.flush();
    const html = await textOf(await h.get('/inspect/delivery?message_id=exact-1'));
    for (const text of [
      '<dt>received</dt><dd>2023-11-14 22:13:20.000Z</dd>',
      '<dt>answered in</dt><dd>2.3 ms</dd>',
      'accepted (HTTP 200)',
      '<dt>users</dt><dd>3</dd>',
      '2023-11-14 22:13:20.000Z (1700000000)',
      '<dt>duplicates received</dt><dd>1</dd>',
      '<dt>lag</dt><dd>1.5 s</dd>',
      '<dt>entered</dt><dd>2</dd>',
      '<dt>unchanged</dt><dd>1</dd>',
      '<dt>worker</dt><dd>worker-7</dd>',
      '<td>http</td><td class="num">1</td><td class="num">1</td><td class="error">HTTP 500</td>',
    ]) {
      expect(html).toContain(text);
    }
    const missing = await h.request('/inspect/delivery?message_id=nope', {
      cookie: h.cookie,
      headers: { accept: '*/*' },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'delivery_not_found' });
  });
});

describe('quarantine and dead letters', () => {
  it('lists rejected bodies with reason and issue paths, and downloads the exact bytes, even not UTF-8', async () => {
    const h = await loggedIn();
    const raw = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_payload: users.3.user_id: is required; cohort_id: must be a string, got a number',
      ...keptBody(raw),
    });
    await h.deadLetters.add({
      kind: 'failed',
      reason: 'Error: disk full (after 5 attempts)',
      body: JSON.stringify(h.batch({ cohortId: 'c9' })),
    });
    const list = await textOf(await h.get('/inspect/quarantine'));
    expect(list).toContain('invalid_payload: users.3.user_id: is required');
    expect(list).not.toContain('disk full');
    const [letter] = await h.deadLetters.list({ kind: 'rejected' });
    const page = await textOf(await h.get(`/inspect/letters/${letter?.id}`));
    expect(page).toContain('<td><code>users.3.user_id</code></td><td>is required</td>');
    expect(page).toContain('<td><code>cohort_id</code></td><td>must be a string, got a number</td>');
    expect(page).toContain('not UTF-8');
    const download = await h.get(`/inspect/letters/${letter?.id}/body`);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-disposition')).toMatch(
      /^attachment; filename="letter-[A-Za-z0-9._-]+\.body"$/,
    );
    expect(Buffer.from(await download.arrayBuffer())).toEqual(raw);
    const dead = await textOf(await h.get('/inspect/dead-letters'));
    expect(dead).toContain('disk full');
    expect(dead).toContain('<td>c9</td>');
    expect(dead).not.toContain('users.3.user_id');
  });

  it('filters dead letters by kind, cohort, reason text and time', async () => {
    const h = await loggedIn();
    await h.deadLetters.add({
      kind: 'failed',
      reason: 'Error: disk full',
      body: JSON.stringify(h.batch({ cohortId: 'a' })),
    });
    await h.deadLetters.add({
      kind: 'failed',
      reason: 'Error: timeout',
      body: JSON.stringify(h.batch({ cohortId: 'b' })),
    });
    await h.deadLetters.add({
      kind: 'sink',
      reason: 'http: HTTP 500',
      body: JSON.stringify({ sink: 'http', changes: [{ cohortId: 'a', userId: 'u' }] }),
    });
    const count = async (query: string) =>
      /(\d+) letters? match/.exec(await textOf(await h.get(`/inspect/dead-letters?${query}`)))?.[1];
    expect(await count('')).toBe('3');
    expect(await count('kind=sink')).toBe('1');
    expect(await count('cohort=a')).toBe('2');
    expect(await count('reason=DISK')).toBe('1');
    expect(await count('to=2000-01-01T00:00')).toBe('0');
    const bad = await h.request('/inspect/dead-letters?kind=rejected', {
      cookie: h.cookie,
      headers: { accept: '*/*' },
    });
    expect(bad.status).toBe(400);
  });

  it('answers 404 for a letter that is not there', async () => {
    const h = await loggedIn();
    const response = await h.request('/inspect/letters/nope', {
      cookie: h.cookie,
      headers: { accept: '*/*' },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'letter_not_found' });
  });
});

describe('cohorts, members and users', () => {
  it("lists cohorts with members and the last sync, pages members, and finds a user's cohorts", async () => {
    const h = await loggedIn();
    const users = Array.from({ length: 150 }, (_, i) => ({ userId: `user-${String(i).padStart(3, '0')}` }));
    await h.store.applyBatch(
      h.batch({
        cohortId: 'big',
        cohortName: 'Big one',
        users,
        computedTime: 1_700_000_100,
        messageId: 'big-1',
      }),
    );
    await h.store.applyBatch(
      h.batch({ cohortId: 'small', cohortName: 'Small', users: [{ userId: 'user-007' }] }),
    );
    h.deliveryLog.recordReceipt(
      h.receipt({ messageId: 'big-1', cohortId: 'big', computedTime: 1_700_000_100 }),
    );
    h.deliveryLog.recordApplied({
      messageId: 'big-1',
      appliedAt: h.now(),
      lagMs: 3,
      entered: 150,
      left: 0,
      unchanged: 0,
      sinks: [],
      worker: 'w',
    });
    await h.deliveryLog.flush();
    const cohorts = await textOf(await h.get('/inspect/cohorts'));
    expect(cohorts).toMatch(
      /Big one<\/a><\/td><td><code>big<\/code><\/td><td class="num">150<\/td><td>2023-11-14 22:13:20.000Z<\/td><td>2023-11-14 22:15:00.000Z<\/td><td class="num">150<\/td><td class="num">0<\/td>/,
    );
    const first = await textOf(await h.get('/inspect/cohort?id=big'));
    expect(first.match(/user_id=user-/g)).toHaveLength(100);
    const next = /rel="next" href="([^"]+)"/.exec(first)?.[1]?.replaceAll('&amp;', '&') ?? '';
    const second = await textOf(await h.get(next));
    expect(second.match(/user_id=user-/g)).toHaveLength(50);
    expect(second).toContain('user-149');
    expect(second).not.toContain('rel="next"');
    const user = await textOf(await h.get('/inspect/users?user_id=user-007'));
    expect(user).toContain('is in 2 cohorts');
    expect(user).toContain('Big one');
    expect(user).toContain('Small');
  });

  it('says where to look in a process without a store', async () => {
    const h = await loggedIn({ store: undefined });
    expect(await textOf(await h.get('/inspect/cohorts'))).toContain('This process has no store');
    expect(await textOf(await h.get('/inspect/users?user_id=x'))).toContain('This process has no store');
  });
});

describe('retention and the rest', () => {
  it('shows how many deliveries are kept, the bound and the oldest kept', async () => {
    const h = await loggedIn();
    h.deliveryLog.recordReceipt(h.receipt({ receivedAt: 1_700_000_000_000 }));
    h.deliveryLog.recordReceipt(h.receipt({ receivedAt: 1_700_000_050_000 }));
    await h.deliveryLog.flush();
    const html = await textOf(await h.get('/inspect/retention'));
    expect(html).toContain('<dt>deliveries kept</dt><dd>2</dd>');
    expect(html).toContain('<dt>bound (INSPECT_MAX_DELIVERIES)</dt><dd>1,000</dd>');
    expect(html).toContain('<dt>oldest kept</dt><dd>2023-11-14 22:13:20.000Z</dd>');
  });

  it('serves its stylesheet before login, redirects /inspect/ and answers 404 for unknown pages', async () => {
    const h = createInspectorHarness();
    const css = await h.request('/inspect/assets/inspect.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const { cookie } = await h.login();
    const slash = await h.request('/inspect/', { cookie });
    expect(slash.status).toBe(308);
    expect(slash.headers.get('location')).toBe('/inspect');
    const missing = await h.request('/inspect/nothing-here', { cookie, headers: { accept: '*/*' } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });
});
