/**
 * @module Login sessions, held in this process: a restart logs everyone out, and with several
 * processes behind a load balancer a session works only on the process that issued it (use
 * sticky sessions, or open one process's inspector: every view but Overview reads shared data).
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  /** Fingerprint of the token that logged in (who, in the action log). */
  who: string;
  expiresAt: number;
}

/** Bounds memory if a client logs in in a loop: the oldest sessions go first. */
const maxSessions = 1000;

export function createSessions(options: { ttlMs: number; now: () => number }) {
  // Keyed by a digest of the cookie value, so the map never holds a usable secret.
  const sessions = new Map<string, Session>();
  const key = (id: string) => createHash('sha256').update(id).digest('base64url');
  const sweep = (now: number) => {
    for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
    while (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value as string);
  };
  return {
    ttlMs: options.ttlMs,
    /** A new session's cookie value. */
    open(who: string): string {
      const now = options.now();
      sweep(now);
      const id = randomBytes(32).toString('base64url');
      sessions.set(key(id), { who, expiresAt: now + options.ttlMs });
      return id;
    },
    /** The live session for a cookie value; `expired` once past its time; undefined when unknown or logged out. */
    find(id: string | undefined): Session | 'expired' | undefined {
      if (id === undefined || id.length > 100) return undefined;
      const session = sessions.get(key(id));
      if (session === undefined) return undefined;
      if (session.expiresAt > options.now()) return session;
      sessions.delete(key(id));
      return 'expired';
    },
    close(id: string | undefined): void {
      if (id !== undefined) sessions.delete(key(id));
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
