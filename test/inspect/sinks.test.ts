/**
 * The inspector's Sinks page on a real receiver started in-process as `npm start` starts it (sink
 * control, the http sink posting to a real downstream server): pause, resume and backfill through
 * the confirm page and a form POST, the mass-exit guard's hold on the overview, the cohort page and
 * the Sinks page, release and discard, refusals, escaping.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type RunningReceiver, startReceiver } from '../../src/compose.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { type Downstream, startDownstream } from '../sinks/downstream.ts';
import { createTempDir } from '../support/tmp.ts';
import { createInspectorHarness, textOf } from './harness.ts';

const ampToken = 'amplitude-secret-sinks-test';
const adminToken = 'operator-secret-sinks-test';

interface SinkJson {
  name: string;
  paused: { at: string; by: string } | null;
  waiting: number;
  held: number;
  backfill: { sent: number; total: number; cohorts_left: string[] } | null;
}
interface StatusJson {
  sinks: SinkJson[];
  holds: { cohort_id: string; members_at_open: number; exits: number }[];
}

const delivered = (downstream: Downstream) =>
  downstream.accepted().flatMap((request) => (request.body as { changes: WireChange[] }).changes);

const users = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => ({ user_id: `${prefix}-${index}` }));

const batch = (fields: {
  id: string;
  name?: string;
  messageId: string;
  users: { user_id: string }[];
  inCohort?: boolean;
  computedTime?: number;
}) =>
  JSON.stringify({
    cohort_id: fields.id,
    cohort_name: fields.name ?? `Cohort ${fields.id}`,
    in_cohort: fields.inCohort ?? true,
    computed_time: fields.computedTime ?? 100,
    message_id: fields.messageId,
    users: fields.users,
  });

async function until(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('inspector: Sinks', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(env: Record<string, string> = {}) {
    const downstream = await startDownstream();
    cleanups.push(() => downstream.close());
    const dir = await createTempDir('inspect-sinks');
    cleanups.push(() => dir.remove());
    const logLines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
    const receiver: RunningReceiver = await startReceiver(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        STORE: 'memory',
        SQLITE_PATH: `${dir.path}/cohorts.db`,
        SINKS: 'http',
        SINK_HTTP_URL: downstream.url,
        AUTH_TOKENS: ampToken,
        ADMIN_TOKENS: adminToken,
        SINK_GUARD_MIN_MEMBERS: '10',
        SHUTDOWN_TIMEOUT_MS: '2000',
        ...env,
      }),
      logger,
    );
    cleanups.push(() => receiver.shutdown());
    await receiver.ready;
    const url = receiver.url;

    const login = await fetch(`${url}/inspect/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: adminToken, next: '/inspect' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

    /** A page as a logged-in browser asks for it. */
    const get = (path: string) => fetch(`${url}${path}`, { headers: { cookie, accept: 'text/html' } });
    /** A form POST as the inspector's own pages send it (`sec-fetch-site: same-origin`), unless told. */
    const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams(fields),
        headers: {
          cookie,
          accept: 'text/html',
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
          ...headers,
        },
      });
    const api = async (path = '/sinks', method = 'GET') => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ampToken}` },
      });
      expect(response.status).toBe(200);
      return response.json();
    };
    const status = () => api() as Promise<StatusJson>;
    const sink = async () => (await status()).sinks[0] as SinkJson;
    const webhook = async (body: string) => {
      const response = await fetch(`${url}/webhook`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${ampToken}`, 'content-type': 'application/json' },
      });
      expect(response.status).toBe(200);
    };
    /** The confirm page's form: where it posts and its hidden fields, as the browser would send them. */
    const confirmForm = (html: string) => {
      const action = /<form method="post" action="([^"]+)" class="actions" id="confirm-form">/.exec(
        html,
      )?.[1];
      const fields = Object.fromEntries(
        [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((match) => [
          match[1] as string,
          unescapeHtml(match[2] as string),
        ]),
      );
      if (action === undefined) throw new Error(`no confirm form in ${html.slice(0, 300)}`);
      return { action: unescapeHtml(action), fields };
    };
    /** GET the confirm page, then POST its form. */
    const confirmThenPost = async (confirmPath: string) => {
      const confirm = await textOf(await get(confirmPath));
      const form = confirmForm(confirm);
      return { confirm, response: await post(form.action, form.fields) };
    };
    const actionLogs = () => logLines.filter((line) => line.msg === 'inspector action');
    return { url, downstream, logLines, get, post, api, status, sink, webhook, confirmThenPost, actionLogs };
  }

  it('lists the sinks, and pauses and resumes one through its confirm page and a form POST, logged with who', async () => {
    const r = await start();
    const page = await textOf(await r.get('/inspect/sinks'));
    expect(page).toContain('<a href="/inspect/sinks" aria-current="page">Sinks</a>');
    expect(page).toContain('<tr data-sink="http">');
    expect(page).toContain('<div class="outcome-accepted">running</div>');
    expect(page).toContain('cohorts <code>*</code> · entered, left, updated');
    expect(page).toContain('<a href="/inspect/sinks/pause?sink=http">Pause…</a>');

    // The confirm page changes nothing.
    const confirm = await textOf(await r.get('/inspect/sinks/pause?sink=http'));
    expect(confirm).toContain('This will pause the sink <b>http</b>.');
    expect((await r.sink()).paused).toBeNull();

    // A POST from another site (no same-origin Sec-Fetch-Site, a foreign Origin) is refused.
    const forged = await r.post(
      '/inspect/sinks/pause',
      { sink: 'http' },
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' },
    );
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('cross_site_request');
    expect((await r.sink()).paused).toBeNull();

    const paused = await r.confirmThenPost('/inspect/sinks/pause?sink=http');
    const done = await textOf(paused.response);
    expect(done).toContain('<title>Paused http · cohort-receiver inspector</title>');
    const state = await r.sink();
    expect(state.paused?.by).toMatch(/^inspector [0-9a-f]{8}$/);
    const who = state.paused?.by.slice('inspector '.length);
    expect(r.actionLogs()).toContainEqual(expect.objectContaining({ action: 'pause', sink: 'http', who }));
    expect(r.logLines).toContainEqual(
      expect.objectContaining({
        msg: expect.stringMatching(/^sink paused/),
        sink: 'http',
        who: `inspector ${who}`,
      }),
    );

    // While paused the changes wait; the page says so, by whom, and offers Resume.
    await r.webhook(batch({ id: 'trial', messageId: 'm-paused', users: users('p', 2) }));
    await until('the changes wait', async () => (await r.sink()).waiting === 2);
    expect(r.downstream.requests).toHaveLength(0);
    const pausedPage = await textOf(await r.get('/inspect/sinks'));
    expect(pausedPage).toContain('<b class="error">paused</b> since');
    expect(pausedPage).toContain(`by <code>inspector ${who}</code>`);
    expect(pausedPage).toMatch(/<td class="num">2<\/td><td class="num">0<\/td>/);
    expect(pausedPage).toContain('<a href="/inspect/sinks/resume?sink=http">Resume…</a>');

    const resumed = await r.confirmThenPost('/inspect/sinks/resume?sink=http');
    expect(resumed.confirm).toContain('This will resume the sink <b>http</b>.');
    expect(await textOf(resumed.response)).toContain('<title>Resumed http');
    expect((await r.sink()).paused).toBeNull();
    await r.downstream.waitFor(() => delivered(r.downstream).length === 2);
    expect(r.actionLogs()).toContainEqual(expect.objectContaining({ action: 'resume', sink: 'http', who }));
  });

  it('refuses an unknown sink, and a POST that is not a form, as its usual error page', async () => {
    const r = await start();
    const confirm = await r.get('/inspect/sinks/pause?sink=nope');
    expect(confirm.status).toBe(404);
    expect(await confirm.text()).toContain('No sink named &quot;nope&quot;; SINKS names http.');
    const posted = await r.post('/inspect/sinks/pause', { sink: 'nope' });
    expect(posted.status).toBe(404);
    const html = await posted.text();
    expect(html).toContain('<code>unknown_sink</code> (HTTP 404)');
    expect(r.actionLogs()).toContainEqual(
      expect.objectContaining({ action: 'pause', sink: 'nope', refused: 'unknown_sink' }),
    );
    const json = await r.post('/inspect/sinks/pause', {}, { 'content-type': 'application/json' });
    expect(json.status).toBe(415);
    expect(await json.text()).toContain('<code>form_expected</code> (HTTP 415)');
    expect((await r.sink()).paused).toBeNull();
  });

  it('starts a backfill of one cohort from the page, shows its progress, and refuses a second', async () => {
    const r = await start();
    await r.webhook(batch({ id: 'trial', name: 'Trial ending', messageId: 'm-trial', users: users('t', 5) }));
    await r.webhook(batch({ id: 'other', messageId: 'm-other', users: users('o', 3) }));
    await r.downstream.waitFor(() => delivered(r.downstream).length === 8);
    // Paused, the backfill stays at its start: the page shows it there.
    await r.api('/sinks/http/pause', 'POST');

    const page = await textOf(await r.get('/inspect/sinks'));
    expect(page).toContain(
      '<form method="get" action="/inspect/sinks/backfill" class="actions backfill-form">',
    );
    expect(page).toContain('<option value="">every cohort it takes (2)</option>');
    expect(page).toContain('<option value="trial">Trial ending (trial)</option>');

    const started = await r.confirmThenPost('/inspect/sinks/backfill?sink=http&cohort_id=trial');
    expect(started.confirm).toContain(
      'This will backfill the sink <b>http</b> with the members of cohort <b>Trial ending</b> (<code>trial</code>).',
    );
    const done = await textOf(started.response);
    expect(done).toContain('<title>Backfill started: http');
    expect(done).toContain('0 of 5 (0%)');
    expect(r.actionLogs()).toContainEqual(
      expect.objectContaining({ action: 'backfill', sink: 'http', cohort_id: 'trial', members: 5 }),
    );
    expect((await r.sink()).backfill).toMatchObject({ sent: 0, total: 5, cohorts_left: ['trial'] });

    const progress = await textOf(await r.get('/inspect/sinks'));
    expect(progress).toContain('<meta http-equiv="refresh" content="5"/>');
    expect(progress).toContain('<b>backfilling</b> (waits while paused): ');
    expect(progress).toContain('<progress value="0" max="5">0%</progress> 0 of 5 (0%)');
    expect(progress).toContain('backfill running');

    // Already backfilling: the confirm page and the POST both refuse, with 409.
    const again = await r.get('/inspect/sinks/backfill?sink=http');
    expect(again.status).toBe(409);
    const repost = await r.post('/inspect/sinks/backfill', { sink: 'http' });
    expect(repost.status).toBe(409);
    expect(await repost.text()).toContain('<code>backfill_running</code> (HTTP 409)');

    // Resumed, it sends the cohort's members again and ends; the page stops reloading.
    await r.api('/sinks/http/resume', 'POST');
    await until('the backfill ends', async () => (await r.sink()).backfill === null);
    const restated = delivered(r.downstream).filter((change) => change.restated);
    expect(restated.map((change) => change.user_id).sort()).toEqual(
      users('t', 5).map((user) => user.user_id),
    );
    const after = await textOf(await r.get('/inspect/sinks'));
    expect(after).not.toContain('http-equiv="refresh"');
    expect(after).toContain('running');
  });

  it('shows a mass-exit hold with its numbers on the overview, the cohort page and Sinks; release and discard it', async () => {
    const r = await start();
    const hostile = '<img src=x onerror=alert(1)>Mass';
    // 12 members, then 10 of them leave: over half of what the window opened with.
    const tripIt = async (id: string) => {
      await r.webhook(batch({ id, name: hostile, messageId: `${id}-in`, users: users(id, 12) }));
      await r.downstream.waitFor(
        () => delivered(r.downstream).filter((change) => change.cohort_id === id).length === 12,
      );
      await r.webhook(
        batch({
          id,
          name: hostile,
          messageId: `${id}-out`,
          users: users(id, 10),
          inCohort: false,
          computedTime: 200,
        }),
      );
      await until(`${id} is held`, async () =>
        (await r.status()).holds.some((hold) => hold.cohort_id === id),
      );
      await until(`${id}'s changes are held`, async () => (await r.sink()).held === 10);
    };
    await tripIt('mass');
    const numbers = '10 of 12 members left (83.3%, above the 50% limit)';

    const overview = await textOf(await r.get('/inspect'));
    expect(overview).toContain('<div class="notice" id="holds-banner" role="alert">');
    expect(overview).toContain(numbers);
    expect(overview).toContain('<a href="/inspect/holds/release?cohort_id=mass">Release…</a>');
    expect(overview).toContain('<a href="/inspect/holds/discard?cohort_id=mass">Discard…</a>');
    expect(overview).toContain('&lt;img src=x onerror=alert(1)&gt;Mass');
    expect(overview).not.toContain('<img src=x');

    const cohortPage = await textOf(await r.get('/inspect/cohort?id=mass'));
    expect(cohortPage).toContain('id="holds-banner"');
    expect(cohortPage).toContain(numbers);
    expect(cohortPage).not.toContain('<img src=x');
    // Another cohort's page has no banner.
    expect(await textOf(await r.get('/inspect/cohort?id=calm'))).not.toContain('holds-banner');

    const sinksPage = await textOf(await r.get('/inspect/sinks'));
    expect(sinksPage).toContain('<tr data-cohort="mass">');
    expect(sinksPage).toMatch(
      /<td class="num">12<\/td><td class="num">10<\/td><td class="num">83\.3% \(50%\)<\/td>/,
    );
    // The http sink holds the 10 removals.
    expect(sinksPage).toMatch(/<td class="num">0<\/td><td class="num">10<\/td>/);
    expect(sinksPage).not.toContain('<img src=x');

    // Release: the removals go out.
    const released = await r.confirmThenPost('/inspect/holds/release?cohort_id=mass');
    expect(released.confirm).toContain('This will release the mass-exit hold of cohort <b>&lt;img');
    expect(released.confirm).toContain(numbers);
    expect(await textOf(released.response)).toContain('10 held changes of cohort');
    await r.downstream.waitFor(
      () =>
        delivered(r.downstream).filter((change) => change.cohort_id === 'mass' && change.kind === 'left')
          .length === 10,
    );
    expect((await r.status()).holds).toEqual([]);
    expect(r.actionLogs()).toContainEqual(
      expect.objectContaining({
        action: 'release',
        cohort_id: 'mass',
        changes: 10,
        who: expect.stringMatching(/^[0-9a-f]{8}$/),
      }),
    );
    expect(await textOf(await r.get('/inspect'))).not.toContain('holds-banner');

    // Not held any more: the confirm page and the POST refuse with 404.
    const gone = await r.get('/inspect/holds/release?cohort_id=mass');
    expect(gone.status).toBe(404);
    const repost = await r.post('/inspect/holds/discard', { cohort_id: 'mass' });
    expect(repost.status).toBe(404);
    expect(await repost.text()).toContain('<code>not_held</code> (HTTP 404)');

    // Discard: the removals never reach the sink, which keeps the members it had.
    await tripIt('mass2');
    const discarded = await r.confirmThenPost('/inspect/holds/discard?cohort_id=mass2');
    expect(discarded.confirm).toContain('This will discard the mass-exit hold of cohort');
    expect(await textOf(discarded.response)).toContain('dropped: the sinks keep the members they had');
    expect(await r.sink()).toMatchObject({ held: 0, waiting: 0 });
    expect((await r.status()).holds).toEqual([]);
    await r.webhook(batch({ id: 'marker', messageId: 'marker', users: users('k', 1) }));
    await r.downstream.waitFor(() => delivered(r.downstream).some((change) => change.cohort_id === 'marker'));
    expect(
      delivered(r.downstream).filter((change) => change.cohort_id === 'mass2' && change.kind === 'left'),
    ).toEqual([]);
    expect(r.actionLogs()).toContainEqual(
      expect.objectContaining({ action: 'discard', cohort_id: 'mass2', changes: 10 }),
    );
  });

  it('escapes hostile sink routes and cohort names', async () => {
    const r = await start({ SINK_HTTP_COHORTS: '*,<script>alert(1)</script>' });
    await r.webhook(
      batch({
        id: 'x"><script>alert(2)</script>',
        name: '</option><script>alert(3)</script>',
        messageId: 'h-1',
        users: users('h', 1),
      }),
    );
    await r.downstream.waitFor(() => delivered(r.downstream).length === 1);
    const page = await textOf(await r.get('/inspect/sinks'));
    expect(page).not.toMatch(/<script>alert/);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('<option value="x&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;">');
    expect(page).toContain('&lt;/option&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    const confirm = await textOf(
      await r.get(
        `/inspect/sinks/backfill?sink=http&cohort_id=${encodeURIComponent('x"><script>alert(2)</script>')}`,
      ),
    );
    expect(confirm).not.toMatch(/<script>alert/);
    expect(confirm).toContain(
      '<input type="hidden" name="cohort_id" value="x&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"/>',
    );
  });
});

describe('inspector: Sinks without sink control', () => {
  it('says sink control is not part of this receiver, and refuses its actions', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const page = await textOf(await h.request('/inspect/sinks', { cookie }));
    expect(page).toContain('Sink control is not part of this receiver');
    const confirm = await h.request('/inspect/sinks/pause?sink=http', { cookie });
    expect(confirm.status).toBe(404);
    expect(await confirm.text()).toContain('<code>no_sink_control</code>');
    const posted = await h.post('/inspect/holds/release', { cohort_id: 'c1' }, { cookie });
    expect(posted.status).toBe(404);
    expect(await textOf(await h.request('/inspect', { cookie }))).not.toContain('holds-banner');
  });
});

function unescapeHtml(text: string): string {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}
