/**
 * @module Secrets too weak to guard an endpoint others can reach: the README's demo secret, which
 * anyone can read, and anything short enough to guess. Such a token keeps the default listen address
 * on loopback (config.ts) and is named at start, by its index, never by its value.
 */
import { isLoopback } from './loopback.ts';

/** The secret the README's quick start uses: public, so never a guard. */
export const demoSecret = 'local-demo-secret';

/** Shorter than this is guessable; `openssl rand -hex 32` gives 64. */
export const minTokenLength = 16;

export interface WeakToken {
  /** Its position in AUTH_TOKENS, 0-based: a log may name it, never show it. */
  index: number;
  why: string;
}

export function weakTokens(tokens: readonly string[]): WeakToken[] {
  return tokens.flatMap((token, index) => {
    if (token === demoSecret) return [{ index, why: "is the README's demo secret" }];
    if (token.length < minTokenLength)
      return [{ index, why: `is shorter than ${minTokenLength} characters` }];
    return [];
  });
}

/** The start-up warning for one weak token on `host`. */
export function weakTokenWarning({ index, why }: WeakToken, host: string): string {
  const advice = 'use a long random secret (openssl rand -hex 32)';
  if (isLoopback(host)) {
    return `AUTH_TOKENS[${index}] ${why}: listening on ${host} only, so nothing outside this machine can reach it. To take webhooks from Amplitude, ${advice}; HOST=0.0.0.0 listens on every interface anyway.`;
  }
  return `AUTH_TOKENS[${index}] ${why}, on HOST=${host}: whoever guesses it can change cohort membership; ${advice}.`;
}
