/** @module What every route module of the inspector shares, built once by createInspector. */
import type { BlockList } from 'node:net';
import type { Context } from 'hono';
import type { CounterHistory } from './counters.ts';
import type { InspectorDeps } from './deps.ts';
import type { InspectorEnv } from './env.ts';
import type { Sessions } from './sessions.ts';

export interface InspectorContext {
  deps: InspectorDeps;
  base: string;
  /** Undefined when auth is off (no tokens): loopback clients only, no login. */
  sessions: Sessions | undefined;
  trusted: BlockList;
  now: () => number;
  startedAt: number;
  version: string;
  bulkCap: number;
  livePollMs: number;
  history: CounterHistory;
  /** Aborted by close(): live streams end. */
  closing: AbortSignal;
}

/** The few values every page needs from the request. */
export const pageOf = (ctx: InspectorContext, c: Context<InspectorEnv>) => ({
  base: ctx.base,
  loggedIn: c.get('loggedIn') ?? false,
});

/** The action log: who did what, one line per action. */
export function logAction(
  ctx: InspectorContext,
  c: Context<InspectorEnv>,
  action: string,
  fields: Record<string, unknown>,
): void {
  ctx.deps.logger.info({ who: c.get('who'), action, ...fields }, 'inspector action');
}
