/** @module The Hono environment type every route and middleware shares. */
import type { HttpBindings } from '@hono/node-server';

export interface AppEnv {
  /** Present when served by @hono/node-server; absent in in-process `app.request()` tests. */
  Bindings: Partial<HttpBindings>;
  Variables: {
    /** The request's one log line: method, path, status, then message_id, cohort_id, outcome, reason… */
    logLine: Record<string, unknown>;
  };
}
