/** @module The Hono environment type every route and middleware shares. */
import type { HttpBindings } from '@hono/node-server';

export interface AppEnv {
  /** Present when served by @hono/node-server; absent in in-process `app.request()` tests. */
  Bindings: Partial<HttpBindings>;
  Variables: {
    /** Fields for the request's one log line: message_id, cohort_id, outcome, reason, users… */
    logFields: Record<string, unknown>;
  };
}
