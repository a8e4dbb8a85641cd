/**
 * @module Who may use the inspector: with tokens, a login session (HttpOnly, SameSite=Strict
 * cookie); without, loopback clients only. Every state-changing request must also come from the
 * inspector's own pages (hono's csrf(): Sec-Fetch-Site or Origin) and be a plain form post.
 */
import type { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { isLoopbackAddress, remoteAddress, requestOrigin, wasForwarded } from './client.ts';
import type { InspectorEnv } from './env.ts';
import { reject, wantsHtml } from './reject.tsx';
import type { Sessions } from './sessions.ts';

export const sessionCookie = 'inspect_session';

interface GuardOptions {
  base: string;
  sessions: Sessions | undefined;
  trusted: BlockList;
}

/** Paths reachable before logging in. */
const open = new Set(['/login', '/assets/inspect.css', '/assets/views.css', '/assets/favicon.svg']);

export function accessGuard({ base, sessions }: GuardOptions): MiddlewareHandler<InspectorEnv> {
  return async function inspectorAccess(c, next) {
    if (sessions === undefined) {
      // Auth off: only this machine. A forwarded request may come from anywhere through a local proxy.
      const address = remoteAddress(c);
      if (!isLoopbackAddress(address) || wasForwarded(c)) {
        return reject(
          c,
          base,
          403,
          'loopback_only',
          'Auth is off (no ADMIN_TOKENS or AUTH_TOKENS), so the inspector answers only clients on this machine.',
        );
      }
      c.set('who', 'loopback');
      c.set('loggedIn', false);
      return next();
    }
    c.set('loggedIn', false);
    if (open.has(c.req.path.slice(base.length))) return next();
    const found = sessions.find(getCookie(c, sessionCookie));
    if (found === undefined || found === 'expired') {
      const reason = found === 'expired' ? 'session_expired' : 'login_required';
      if (c.req.method === 'GET' && wantsHtml(c)) {
        c.get('logLine').reason = reason;
        const next = encodeURIComponent(c.req.path + new URL(c.req.url).search);
        const why = found === 'expired' ? '&expired=1' : '';
        return c.redirect(`${base}/login?next=${next}${why}`, 303);
      }
      const detail =
        found === 'expired' ? 'Your session expired: log in again.' : 'Log in at the login page first.';
      return reject(c, base, 401, reason, detail);
    }
    c.set('who', found.who);
    c.set('loggedIn', true);
    return next();
  };
}

/** Hono's csrf() with the origin a trusted proxy reports, answering a refusal as every other one. */
export function csrfGuard({ base, trusted }: GuardOptions): MiddlewareHandler<InspectorEnv> {
  const check = csrf({
    origin: (origin, c) => origin === requestOrigin(c as unknown as Context<InspectorEnv>, trusted).origin,
  });
  return async function csrfProtection(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // csrf() checks only form-like bodies; the inspector's forms are the only bodies it takes.
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
      return reject(
        c,
        base,
        415,
        'form_expected',
        "Actions take the inspector's own forms (application/x-www-form-urlencoded).",
      );
    }
    try {
      await check(c, async () => {});
    } catch (error) {
      if (!(error instanceof HTTPException)) throw error;
      return reject(
        c,
        base,
        403,
        'cross_site_request',
        "This action must be sent from the inspector's own pages (Origin / Sec-Fetch-Site did not match).",
      );
    }
    return next();
  };
}

export function setSessionCookie(
  c: Context<InspectorEnv>,
  value: string,
  options: GuardOptions & { ttlMs: number },
) {
  setCookie(c, sessionCookie, value, {
    path: options.base,
    httpOnly: true,
    sameSite: 'Strict',
    secure: requestOrigin(c, options.trusted).https,
    maxAge: Math.floor(options.ttlMs / 1000),
  });
}

export function clearSessionCookie(c: Context<InspectorEnv>, options: GuardOptions) {
  deleteCookie(c, sessionCookie, {
    path: options.base,
    httpOnly: true,
    sameSite: 'Strict',
    secure: requestOrigin(c, options.trusted).https,
  });
}
