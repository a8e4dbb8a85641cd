/** @module Shared-secret auth: the only guard Amplitude's webhooks can carry (no signature, no fixed IPs). */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

export interface AuthOptions {
  /** Accepted secrets; two during a rotation. Empty = auth off. */
  tokens: string[];
  /** Lower-case name of the header carrying the secret. @default 'authorization' */
  header?: string;
}

/**
 * Accepts the secret in the configured header (bare or as `Bearer <token>`), or as a `?token=`
 * query parameter for senders that can only paste a URL. Answers 401 `{"error":"unauthorized"}`.
 */
export function requireAuth({ tokens, header = 'authorization' }: AuthOptions): MiddlewareHandler<AppEnv> {
  const matches = tokenMatcher(tokens);
  // Node's header map has lower-case names only.
  const name = header.toLowerCase();
  return async function requireAuth(c, next) {
    if (tokens.length === 0) return next();
    // Node's own header map when served by @hono/node-server: no Web Headers built per request.
    const incoming = c.env?.incoming;
    const headerValue = incoming ? incoming.headers[name] : c.req.header(name);
    let match = false;
    // Per RFC 9110 the auth scheme is case-insensitive.
    if (typeof headerValue === 'string') match = matches(headerValue.replace(/^bearer\s+/i, ''));
    const queryValue = c.req.url.includes('?') ? c.req.query('token') : undefined;
    if (queryValue !== undefined) match = matches(queryValue) || match;
    if (match) return next();
    c.get('logFields').reason = 'unauthorized';
    return c.json({ error: 'unauthorized' }, 401);
  };
}

/**
 * Compares a presented secret with every accepted one in time that depends on neither: each token
 * is zero-padded once to the longest token's length, the presented value is written into one
 * scratch buffer of that width, and every comparison covers the whole width (no early exit, no
 * allocation per request). A length check, folded in without branching, refuses a value that only
 * starts like a token.
 */
export function tokenMatcher(tokens: string[]): (presented: string) => boolean {
  const width = Math.max(1, ...tokens.map((token) => Buffer.byteLength(token)));
  const padded = tokens.map((token) => {
    const buffer = Buffer.alloc(width);
    buffer.write(token, 0, 'utf8');
    return { buffer, length: Buffer.byteLength(token) };
  });
  const scratch = Buffer.alloc(width);
  return function matches(presented) {
    const length = Buffer.byteLength(presented);
    scratch.fill(0);
    scratch.write(presented, 0, 'utf8');
    let match = false;
    for (const token of padded) {
      const same = timingSafeEqual(scratch, token.buffer) && length === token.length;
      match = same || match;
    }
    return match;
  };
}
