/**
 * Issue #27's list for the deliveries, delivery, letter and login views: updated users, failed
 * sinks, a rejected body's message_id and cohort, the words and classes the 1280 px layout needs,
 * the login page without navigation, the favicon, and a delivery's user ids.
 */
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { keptBody } from '../../src/core/dead-letters/dead-letters.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import type { AppEnv } from '../../src/core/http/app-env.ts';
import { requestLog } from '../../src/core/http/request-log.ts';
import type { ApplyResult, DeliveryReceipt } from '../../src/inspect/deliveries/delivery-log.ts';
import { prettyJson } from '../../src/inspect/views/pretty-json.ts';
import { createInspectorHarness, textOf } from './harness.ts';

async function loggedIn() {
  const h = createInspectorHarness();
  const { cookie } = await h.login();
  return { ...h, get: (path: string) => h.request(path, { cookie }), cookie };
}

const applied = (messageId: string, overrides: Partial<ApplyResult> = {}): ApplyResult => ({
  messageId,
  appliedAt: 1_700_000_001_000,
  lagMs: 1000,
  entered: 1,
  left: 0,
  updated: 1,
  unchanged: 1,
  sinks: [],
  worker: 'worker-1',
  ...overrides,
});

/** A rejected request's receipt: no batch was read, so no cohort, direction or users. */
function rejectedReceipt(h: ReturnType<typeof createInspectorHarness>, fields: Partial<DeliveryReceipt>) {
  const receipt = h.receipt({ messageId: null, outcome: 'rejected', status: 422, ...fields });
  const { cohortId: _id, cohortName: _name, inCohort: _in, users: _users, ...rest } = receipt;
  return rest;
}

/** The `<tr>` of the deliveries list that names `text`. */
const rowWith = (html: string, text: string) =>
  [...html.matchAll(/<tr[^>]*>.*?<\/tr>/gs)].map((m) => m[0]).find((row) => row.includes(text)) ?? '';

describe('deliveries: applied users', () => {
  it('counts updated users in the list (with a legend) and on the delivery page', async () => {
    const h = await loggedIn();
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'with-updated', users: 3 }));
    h.deliveryLog.recordApplied(applied('with-updated'));
    // A writer from before `updated` was counted: the list leaves the sign out, the page says so.
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'older-writer', users: 2 }));
    const { updated: _, ...olderResult } = applied('older-writer');
    h.deliveryLog.recordApplied(olderResult);
    await h.deliveryLog.flush();
    const list = await textOf(await h.get('/inspect/deliveries'));
    expect(rowWith(list, 'with-updated')).toContain('+1 −0 ~1 =1');
    expect(rowWith(list, 'older-writer')).toContain('+1 −0 =1');
    expect(list).toContain('id="applied-legend"');
    expect(list).toContain('~ updated');
    const page = await textOf(await h.get('/inspect/delivery?message_id=with-updated'));
    expect(page).toContain('<dt>updated</dt><dd>1</dd>');
    const older = await textOf(await h.get('/inspect/delivery?message_id=older-writer'));
    expect(older).toContain('<dt>updated</dt><dd>— (not counted by that worker)</dd>');
  });
});

describe('deliveries: failed sinks', () => {
  it('marks a batch whose sinks all failed, and one whose sinks partly failed, in words and a row class', async () => {
    const h = await loggedIn();
    const cases = {
      'all-failed': [
        { name: 'http', delivered: 0, failed: 2, error: 'HTTP 500' },
        { name: 'kafka', delivered: 0, failed: 2, error: 'timeout' },
      ],
      'part-failed': [
        { name: 'http', delivered: 2, failed: 0 },
        { name: 'kafka', delivered: 0, failed: 2, error: 'timeout' },
      ],
      'all-good': [{ name: 'http', delivered: 2, failed: 0 }],
    };
    for (const [messageId, sinks] of Object.entries(cases)) {
      h.deliveryLog.recordReceipt(h.receipt({ messageId }));
      h.deliveryLog.recordApplied(applied(messageId, { sinks }));
    }
    await h.deliveryLog.flush();
    const list = await textOf(await h.get('/inspect/deliveries'));
    expect(rowWith(list, 'all-failed')).toMatch(/^<tr[^>]*class="sinks-failed"/);
    expect(rowWith(list, 'all-failed')).toContain('· sinks failed');
    expect(rowWith(list, 'part-failed')).toMatch(/^<tr[^>]*class="sinks-partial"/);
    expect(rowWith(list, 'part-failed')).toContain('· sinks partly failed');
    expect(rowWith(list, 'all-good')).not.toContain('sinks');
    const page = await textOf(await h.get('/inspect/delivery?message_id=all-failed'));
    expect(page).toContain('Sinks failed: no sink took these changes (2 sinks).');
    const partly = await textOf(await h.get('/inspect/delivery?message_id=part-failed'));
    expect(partly).toContain('Sinks partly failed');
  });
});

describe('deliveries: a rejected body', () => {
  it("shows the message_id and cohort the body carried (escaped) and links to the body's letter", async () => {
    const h = await loggedIn();
    const body = JSON.stringify({
      cohort_id: 'c<9>',
      cohort_name: '<b>Hostile</b>',
      in_cohort: 'yes',
      message_id: 'msg-"rejected"',
      users: [],
    });
    const withFields = await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_payload: in_cohort: Expected boolean',
      ...keptBody(Buffer.from(body)),
    });
    const notJson = await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_json: Unexpected token',
      ...keptBody(Buffer.from('{"message_id": "cut-off')),
    });
    h.deliveryLog.recordReceipt(rejectedReceipt(h, { reason: 'invalid_payload', quarantineId: withFields }));
    h.deliveryLog.recordReceipt(
      rejectedReceipt(h, { status: 400, reason: 'invalid_json', quarantineId: notJson }),
    );
    await h.deliveryLog.flush();
    const list = await textOf(await h.get('/inspect/deliveries'));
    const row = rowWith(list, 'invalid_payload');
    expect(row).toContain('&lt;b&gt;Hostile&lt;/b&gt; (c&lt;9&gt;)');
    expect(row).toContain(`<a href="/inspect/letters/${withFields}">msg-&quot;rejected&quot;</a>`);
    expect(list).not.toContain('<b>Hostile');
    // A body that does not parse tells nothing, and still links to its letter, not the list.
    const cut = rowWith(list, 'invalid_json');
    expect(cut).toContain(`<a href="/inspect/letters/${notJson}">(none: see its letter)</a>`);
    expect(list).not.toContain('href="/inspect/quarantine"><');
  });

  it('sends the body hints through the live tail too', async () => {
    const h = await loggedIn();
    const id = await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_payload: users: Required',
      ...keptBody(Buffer.from(JSON.stringify({ cohort_id: 'c7', message_id: 'live-rejected' }))),
    });
    h.deliveryLog.recordReceipt(rejectedReceipt(h, { quarantineId: id }));
    await h.deliveryLog.flush();
    const controller = new AbortController();
    const response = await h.request('/inspect/deliveries/live', {
      cookie: h.cookie,
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    controller.abort();
    const data = /^data: (.*)$/m.exec(new TextDecoder().decode(value))?.[1] ?? '';
    const row = JSON.parse(data) as { cells: { text: string; href?: string }[] };
    expect(row.cells).toContainEqual({ text: 'live-rejected', href: `/inspect/letters/${id}` });
    expect(row.cells.map((cell) => cell.text)).toContain(' (c7)');
  });
});

describe('the words and classes the 1280 px layout needs', () => {
  it('keeps timestamps, the ack time and the receiver on one line; the receiver cut with a title', async () => {
    const h = await loggedIn();
    const receiver = 'cohort-receiver-7d9f8b6c5d-x2k4p-12345';
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'wide', ackMs: 0.94, receiver }));
    await h.deliveryLog.flush();
    const row = rowWith(await textOf(await h.get('/inspect/deliveries')), 'wide');
    expect(row).toContain('<td class="nowrap">2023-11-14 22:13:20.000Z</td>');
    expect(row).toContain('<td class="num nowrap">0.9 ms</td>');
    expect(row).toContain(`<td class="clip" title="${receiver}">${receiver}</td>`);
    const css = await textOf(await h.request('/inspect/assets/views.css'));
    expect(css).toContain('td.nowrap');
    expect(css).toMatch(/td\.clip \{[^}]*text-overflow: ellipsis/);
  });

  it('keeps "Drop matching…" in one group with Filter and Replay', async () => {
    const h = await loggedIn();
    const html = await textOf(await h.get('/inspect/dead-letters'));
    const group = /<span class="filter-actions">(.*?)<\/span>/s.exec(html)?.[1] ?? '';
    expect(group).toContain('Filter');
    expect(group).toContain('Replay matching…');
    expect(group).toContain('Drop matching…');
  });

  it('shows a JSON body indented, keeping every token as sent, in a <pre> that wraps at spaces', async () => {
    const h = await loggedIn();
    const body = '{"cohort_id":"c1","big":12345678901234567890,"users":[{"user_id":"a b"}],"empty":{}}';
    const id = await h.deadLetters.add({ kind: 'failed', reason: 'Error: boom (after 1 attempt)', body });
    const html = await textOf(await h.get(`/inspect/letters/${id}`));
    expect(html).toContain(
      '<pre id="body" class="body">{\n  &quot;cohort_id&quot;: &quot;c1&quot;,\n  &quot;big&quot;: 12345678901234567890,',
    );
    expect(html).toContain('&quot;empty&quot;: {}\n}</pre>');
    const css = await textOf(await h.request('/inspect/assets/views.css'));
    expect(css).toMatch(/pre\.body \{[^}]*word-break: normal; overflow-wrap: anywhere/);
  });

  it('indents only valid JSON, and never changes a string', () => {
    expect(prettyJson('{"a":"x, {y}: [z]","b":[1,2]}')).toBe(
      '{\n  "a": "x, {y}: [z]",\n  "b": [\n    1,\n    2\n  ]\n}',
    );
    expect(prettyJson('{"a":"\\"quoted, \\\\"}')).toBe('{\n  "a": "\\"quoted, \\\\"\n}');
    expect(prettyJson('{"a": 1')).toBeUndefined();
    expect(prettyJson('not json')).toBeUndefined();
  });

  it('writes "1 letter matches", "1 byte", "1 matches the filter": singular for one', async () => {
    const h = await loggedIn();
    const id = await h.deadLetters.add({ kind: 'failed', reason: 'Error: x (after 1 attempt)', body: '1' });
    const list = await textOf(await h.get('/inspect/dead-letters'));
    expect(list).toContain('1 letter matches');
    const letter = await textOf(await h.get(`/inspect/letters/${id}`));
    expect(letter).toContain('1 byte ·');
    const confirm = await textOf(await h.get('/inspect/letters/bulk?action=drop&kind=failed'));
    expect(confirm).toContain('(1 matches the filter)');
  });
});

describe('login page', () => {
  it('shows the product name and the form, and no navigation', async () => {
    const h = createInspectorHarness();
    const html = await textOf(await h.request('/inspect/login'));
    expect(html).toContain('<strong>cohort-receiver</strong>');
    expect(html).toContain('name="token"');
    expect(html).not.toContain('<nav');
    expect(html).not.toContain('href="/inspect/deliveries"');
    const { cookie } = await h.login();
    expect(await textOf(await h.request('/inspect/deliveries', { cookie }))).toContain('<nav>');
  });
});

describe('favicon', () => {
  it('names a favicon the inspector serves itself (before login too), under the CSP as it was', async () => {
    const h = createInspectorHarness();
    const login = await h.request('/inspect/login');
    expect(await login.text()).toContain(
      '<link rel="icon" type="image/svg+xml" href="/inspect/assets/favicon.svg"/>',
    );
    // img-src 'self' covers it: no data: source had to be allowed.
    expect(login.headers.get('content-security-policy')).toContain("img-src 'self';");
    const icon = await h.request('/inspect/assets/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    const { cookie } = await h.login();
    for (const path of ['/inspect', '/inspect/deliveries', '/inspect/dead-letters']) {
      expect(await textOf(await h.request(path, { cookie }))).toContain('href="/inspect/assets/favicon.svg"');
    }
  });

  it('logs a 404 for /favicon.ico at debug, other 404s still at warn', async () => {
    const lines: { level: number; path: string; msg: string }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const app = new Hono<AppEnv>();
    app.use(requestLog({ logger, events: createReceiverEvents() }));
    for (const path of ['/favicon.ico', '/apple-touch-icon.png', '/nothing', '/favicon.ico/x']) {
      expect((await app.request(path)).status).toBe(404);
    }
    const levelOf = (path: string) => lines.find((line) => line.path === path)?.level;
    expect(levelOf('/favicon.ico')).toBe(20);
    expect(levelOf('/apple-touch-icon.png')).toBe(20);
    expect(levelOf('/nothing')).toBe(40);
    expect(levelOf('/favicon.ico/x')).toBe(40);
  });
});

describe('a delivery page lists its users', () => {
  it('shows the first user ids (escaped, linked), then how many more; nothing for older rows', async () => {
    const h = await loggedIn();
    const userIds = ['u1', '<i>u2</i>', ...Array.from({ length: 48 }, (_, n) => `user-${n}`)];
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'with-ids', users: 1250, userIds }));
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'all-ids', users: 2, userIds: ['a', 'b'] }));
    h.deliveryLog.recordReceipt(h.receipt({ messageId: 'no-ids', users: 3 }));
    await h.deliveryLog.flush();
    const html = await textOf(await h.get('/inspect/delivery?message_id=with-ids'));
    expect(html).toContain('<dt>user ids</dt>');
    expect(html).toContain('<a href="/inspect/users?user_id=u1"><code>u1</code></a>');
    expect(html).toContain(
      `<a href="/inspect/users?user_id=${encodeURIComponent('<i>u2</i>')}"><code>&lt;i&gt;u2&lt;/i&gt;</code></a>`,
    );
    expect(html).not.toContain('<i>u2');
    expect(html).toContain('and 1,200 more');
    const all = await textOf(await h.get('/inspect/delivery?message_id=all-ids'));
    expect(all).toContain('<code>b</code>');
    expect(all).not.toContain('more');
    const older = await textOf(await h.get('/inspect/delivery?message_id=no-ids'));
    expect(older).not.toContain('user ids');
  });
});
