import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createInspectorHarness, textOf, token } from './harness.ts';

const fingerprint = createHash('sha256').update(token).digest('hex').slice(0, 8);

describe('inspector login', () => {
  it('sends a browser without a session to the login form, keeping where it was going', async () => {
    const h = createInspectorHarness();
    const response = await h.request('/inspect/deliveries?outcome=rejected');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(
      `/inspect/login?next=${encodeURIComponent('/inspect/deliveries?outcome=rejected')}`,
    );
    expect(await textOf(await h.request('/inspect/login'))).toContain('name="token"');
  });

  it('answers a program without a session 401 with a JSON reason', async () => {
    const h = createInspectorHarness();
    const response = await h.request('/inspect', { headers: { accept: 'application/json' } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'login_required', detail: expect.any(String) });
    expect(h.logLines.at(-1)).toMatchObject({ status: 401, reason: 'login_required' });
  });

  it('takes a right token: an HttpOnly, SameSite=Strict session cookie scoped to the inspector, and a log line', async () => {
    const h = createInspectorHarness();
    const { response, cookie } = await h.login();
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/inspect');
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^inspect_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/inspect');
    expect(setCookie).not.toContain('Secure');
    expect(setCookie).not.toContain(token);
    expect(await textOf(await h.request('/inspect', { cookie }))).toContain('Overview');
    expect(h.logLines).toContainEqual(
      expect.objectContaining({ msg: 'inspector action', action: 'login', who: fingerprint }),
    );
    expect(JSON.stringify(h.logLines)).not.toContain(token);
  });

  it('refuses a wrong token with 401, the form again and a log line, and sets no cookie', async () => {
    const h = createInspectorHarness();
    const { response } = await h.login('not-the-token');
    expect(response.status).toBe(401);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.text()).toContain('That token is not accepted.');
    expect(h.logLines).toContainEqual(expect.objectContaining({ status: 401, reason: 'invalid_token' }));
  });

  it('takes every token of ADMIN_TOKENS (a rotation) and names each by its own fingerprint', async () => {
    const h = createInspectorHarness({ tokens: ['old-token', 'new-token'] });
    for (const given of ['old-token', 'new-token']) {
      const { response, cookie } = await h.login(given);
      expect(response.status).toBe(303);
      expect((await h.request('/inspect', { cookie })).status).toBe(200);
    }
    const who = h.logLines.filter((line) => line.action === 'login').map((line) => line.who);
    expect(who).toEqual(
      ['old-token', 'new-token'].map((t) => createHash('sha256').update(t).digest('hex').slice(0, 8)),
    );
  });

  it('marks the cookie Secure over HTTPS, and behind a proxy only when TRUST_PROXY names it', async () => {
    const direct = createInspectorHarness();
    const overHttps = await direct.app.request(
      'https://inspect.test/inspect/login',
      {
        method: 'POST',
        body: new URLSearchParams({ token }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      },
      { incoming: { socket: { remoteAddress: '127.0.0.1' } } } as never,
    );
    expect(overHttps.headers.get('set-cookie')).toContain('Secure');

    const forwarded = { 'x-forwarded-proto': 'https' };
    const untrusting = createInspectorHarness({ remoteAddress: '10.1.2.3' });
    const ignored = await untrusting.post('/inspect/login', { token }, { headers: forwarded });
    expect(ignored.headers.get('set-cookie')).not.toContain('Secure');

    const trusting = createInspectorHarness({ remoteAddress: '10.1.2.3', trustedProxies: ['10.0.0.0/8'] });
    const believed = await trusting.post('/inspect/login', { token }, { headers: forwarded });
    expect(believed.headers.get('set-cookie')).toContain('Secure');
  });

  it('never redirects a login elsewhere than the inspector', async () => {
    const h = createInspectorHarness();
    for (const next of ['https://evil.test/', '//evil.test/inspect/', '/elsewhere', '/inspect//evil.test']) {
      const response = await h.post('/inspect/login', { token, next });
      expect(response.headers.get('location')).toBe('/inspect');
    }
  });

  it('logs out: the session no longer works and the cookie is cleared', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const response = await h.post('/inspect/logout', {}, { cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get('set-cookie')).toMatch(/inspect_session=;.*Max-Age=0/);
    expect((await h.request('/inspect', { cookie })).status).toBe(303);
    expect(h.logLines).toContainEqual(expect.objectContaining({ action: 'logout', who: fingerprint }));
  });

  it('ends a session at its expiry and says so', async () => {
    const h = createInspectorHarness({ sessionTtlMs: 60_000 });
    const { cookie } = await h.login();
    h.advance(59_999);
    expect((await h.request('/inspect', { cookie })).status).toBe(200);
    h.advance(1);
    const expired = await h.request('/inspect/cohorts', { cookie });
    expect(expired.status).toBe(303);
    expect(expired.headers.get('location')).toContain('expired=1');
    expect(await textOf(await h.request(expired.headers.get('location') ?? ''))).toContain(
      'Your session expired',
    );
    const api = await h.request('/inspect/cohorts', { cookie, headers: { accept: 'application/json' } });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ error: 'login_required' });
  });

  it('refuses a made-up session cookie', async () => {
    const h = createInspectorHarness();
    const response = await h.request('/inspect', {
      cookie: 'inspect_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(response.status).toBe(303);
  });
});

describe('inspector CSRF protection', () => {
  it('refuses a cross-site form post with 403, a JSON reason and a log line, and does nothing', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    await h.deadLetters.add({ kind: 'rejected', reason: 'invalid_json: x', body: '{' });
    const [letter] = await h.deadLetters.list();
    const response = await h.post(
      '/inspect/letters/bulk/drop',
      { id: letter?.id ?? '' },
      { cookie, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.test', accept: '*/*' } },
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: 'cross_site_request' });
    expect(await h.deadLetters.list()).toHaveLength(1);
    expect(h.logLines.at(-1)).toMatchObject({ status: 403, reason: 'cross_site_request' });
  });

  it('refuses a post with neither Sec-Fetch-Site nor a matching Origin, and takes a matching Origin', async () => {
    const h = createInspectorHarness();
    const noHeaders = await h.app.request(
      'http://inspect.test/inspect/login',
      {
        method: 'POST',
        body: new URLSearchParams({ token }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      { incoming: { socket: { remoteAddress: '127.0.0.1' } } } as never,
    );
    expect(noHeaders.status).toBe(403);
    const sameOrigin = await h.app.request(
      'http://inspect.test/inspect/login',
      {
        method: 'POST',
        body: new URLSearchParams({ token }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://inspect.test' },
      },
      { incoming: { socket: { remoteAddress: '127.0.0.1' } } } as never,
    );
    expect(sameOrigin.status).toBe(303);
  });

  it('refuses a post that is not a form (hono csrf() would let JSON through unchecked)', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const response = await h.request('/inspect/logout', {
      method: 'POST',
      cookie,
      body: '{}',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', accept: '*/*' },
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: 'form_expected' });
  });
});

describe('inspector with auth off', () => {
  it('answers loopback clients without a login', async () => {
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const h = createInspectorHarness({ tokens: [], remoteAddress });
      expect(await textOf(await h.request('/inspect'))).toContain('Overview');
    }
  });

  it('refuses any other client, and a request a proxy forwarded, with 403', async () => {
    for (const remoteAddress of ['10.0.0.7', '192.168.1.2', '::ffff:10.0.0.7', '2001:db8::1']) {
      const h = createInspectorHarness({ tokens: [], remoteAddress });
      const response = await h.request('/inspect', { headers: { accept: 'application/json' } });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: 'loopback_only' });
    }
    const local = createInspectorHarness({ tokens: [] });
    const viaProxy = await local.request('/inspect/', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(viaProxy.status).toBe(403);
  });

  it('refuses in-process requests with no socket to check (fails closed)', async () => {
    const h = createInspectorHarness({ tokens: [] });
    expect((await h.app.request('/inspect')).status).toBe(403);
  });

  it('names the actor "loopback" in the action log', async () => {
    const h = createInspectorHarness({ tokens: [] });
    await h.deadLetters.add({ kind: 'rejected', reason: 'invalid_json: x', body: '{' });
    const [letter] = await h.deadLetters.list();
    expect((await h.post('/inspect/letters/bulk/drop', { id: letter?.id ?? '' })).status).toBe(200);
    expect(h.logLines).toContainEqual(
      expect.objectContaining({ msg: 'inspector action', action: 'drop', who: 'loopback' }),
    );
  });
});

describe('inspector headers', () => {
  it("sends a strict CSP whose nonce is the live script's, and no-store", async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const response = await h.request('/inspect/deliveries', { cookie });
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    const html = await response.text();
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });
});
