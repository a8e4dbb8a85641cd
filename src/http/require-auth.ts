/** @module Shared-secret auth: the only guard Amplitude's webhooks can carry (no signature, no fixed IPs). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

export interface AuthOptions {
  /** Accepted secrets; two during a rotation. Empty = auth off. */
  tokens: string[];
  /** Lower-case name of the header carrying the secret. @default 'authorization' */
  header?: string;
}

// Comparing SHA-256 digests makes every comparison the same length, so neither the content nor the
// length of a token leaks through timing.
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Accepts the secret in the configured header (bare or as `Bearer <token>`), or as a `?token=`
 * query parameter for senders that can only paste a URL. Answers 401 `{"error":"unauthorized"}`.
 */
export function requireAuth({ tokens, header = 'authorization' }: AuthOptions): MiddlewareHandler<AppEnv> {
  const accepted = tokens.map(digest);
  return async function requireAuth(c, next) {
    if (accepted.length === 0) return next();
    let match = false;
    for (const given of presentedTokens(c.req.header(header), c.req.query('token'))) {
      const candidate = digest(given);
      // No early exit: the time taken does not say which token matched.
      for (const token of accepted) match = timingSafeEqual(candidate, token) || match;
    }
    if (match) return next();
    c.get('logFields').reason = 'unauthorized';
    return c.json({ error: 'unauthorized' }, 401);
  };
}

function presentedTokens(headerValue: string | undefined, queryValue: string | undefined): string[] {
  const tokens: string[] = [];
  // Per RFC 9110 the auth scheme is case-insensitive.
  if (headerValue !== undefined) tokens.push(headerValue.replace(/^bearer\s+/i, ''));
  if (queryValue !== undefined) tokens.push(queryValue);
  return tokens;
}
