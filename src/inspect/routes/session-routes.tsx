/** @module Login and logout, and the assets the login page shows before any login (guard.tsx's open paths). */
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { InspectorContext } from '../context.ts';
import type { InspectorEnv } from '../env.ts';
import { clearSessionCookie, sessionCookie, setSessionCookie } from '../guard.tsx';
import { reject, wantsHtml } from '../reject.tsx';
import { matchToken } from '../tokens.ts';
import { LoginPage } from '../views/login.tsx';
import { faviconSvg, viewStyles } from '../views/view-styles.ts';

/** Only a path inside the inspector: a `next` elsewhere would make the login an open redirect. */
function safeNext(base: string, next: unknown): string {
  if (typeof next !== 'string') return base;
  const inside = next === base || next.startsWith(`${base}/`) || next.startsWith(`${base}?`);
  return inside && !next.includes('//') && !next.includes('\\') ? next : base;
}

export function sessionRoutes(ctx: InspectorContext) {
  const { base } = ctx;
  const app = new Hono<InspectorEnv>();
  app.get('/assets/views.css', (c) => c.body(viewStyles, 200, { 'Content-Type': 'text/css; charset=utf-8' }));
  app.get('/assets/favicon.svg', (c) => c.body(faviconSvg, 200, { 'Content-Type': 'image/svg+xml' }));
  app.get('/login', (c) => {
    if (ctx.sessions === undefined) return c.redirect(base, 303);
    const message = c.req.query('expired') ? 'Your session expired: log in again.' : undefined;
    return c.html(<LoginPage base={base} next={safeNext(base, c.req.query('next'))} message={message} />);
  });
  app.post('/login', async (c) => {
    if (ctx.sessions === undefined) return c.redirect(base, 303);
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token : '';
    const next = safeNext(base, form.next);
    const who = token === '' ? undefined : matchToken(token, ctx.deps.tokens);
    if (who === undefined) {
      ctx.deps.logger.warn({ action: 'login' }, 'inspector login refused: the token is not accepted');
      if (!wantsHtml(c)) return reject(c, base, 401, 'invalid_token', 'That token is not accepted.');
      c.get('logLine').reason = 'invalid_token';
      return c.html(<LoginPage base={base} next={next} message="That token is not accepted." />, 401);
    }
    setSessionCookie(c, ctx.sessions.open(who), {
      base,
      sessions: ctx.sessions,
      trusted: ctx.trusted,
      ttlMs: ctx.sessions.ttlMs,
    });
    ctx.deps.logger.info({ who, action: 'login' }, 'inspector action');
    return c.redirect(next, 303);
  });
  app.post('/logout', (c) => {
    if (ctx.sessions === undefined) return c.redirect(base, 303);
    ctx.sessions.close(getCookie(c, sessionCookie));
    clearSessionCookie(c, { base, sessions: ctx.sessions, trusted: ctx.trusted });
    ctx.deps.logger.info({ who: c.get('who'), action: 'logout' }, 'inspector action');
    return c.redirect(`${base}/login`, 303);
  });
  return app;
}
