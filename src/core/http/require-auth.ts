/** @module Shared-secret auth: the only guard Amplitude's webhooks can carry (no signature, no fixed IPs). */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getQueryParam } from 'hono/utils/url';
import { UnauthorizedError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';

export interface AuthOptions {
  /** Accepted secrets; two during a rotation. Empty = auth off. */
  tokens: string[];
  /** Lower-case name of the header carrying the secret. @default 'authorization' */
  header?: string;
}

/**
 * Accepts the secret in the configured header (bare or as `Bearer <token>`), or as a `?token=`
 * query parameter for senders that can only paste a URL. Throws UnauthorizedError (401).
 */
export function requireAuth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  const check = secretCheck(options);
  // Node's header map has lower-case names only.
  const name = (options.header ?? 'authorization').toLowerCase();
  return async function requireAuth(c, next) {
    if (check === undefined) return next();
    // Node's own header map when served by @hono/node-server: no Web Headers built per request.
    const incoming = c.env?.incoming;
    if (check(incoming ? incoming.headers[name] : c.req.header(name), c.req.url)) return next();
    throw new UnauthorizedError();
  };
}

/**
 * Whether a request carries an accepted secret: `headerValue` is the configured header's value,
 * `url` the full URL (its `?token=` read as Hono reads a query). Undefined when auth is off.
 */
export function secretCheck({
  tokens,
}: AuthOptions): ((headerValue: string | string[] | undefined, url: string) => boolean) | undefined {
  if (tokens.length === 0) return undefined;
  const matches = tokenMatcher(tokens);
  return function carriesSecret(headerValue, url) {
    let match = false;
    // Per RFC 9110 the auth scheme is case-insensitive.
    if (typeof headerValue === 'string') match = matches(headerValue.replace(/^bearer\s+/i, ''));
    const queryValue = url.includes('?') ? getQueryParam(url, 'token') : undefined;
    if (typeof queryValue === 'string') match = matches(queryValue) || match;
    return match;
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
