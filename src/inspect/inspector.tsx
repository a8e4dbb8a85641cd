/**
 * @module createInspector(deps): the inspector page (docs/inspect.md) as a Hono sub-app for the
 * receiver to mount at INSPECT_PATH. Server-rendered with hono/jsx; the live tail is its only script.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import { trustedProxyList } from './client.ts';
import type { InspectorContext } from './context.ts';
import { createCounterHistory, readTotals } from './counters.ts';
import type { InspectorDeps } from './deps.ts';
import type { InspectorEnv } from './env.ts';
import { accessGuard, csrfGuard } from './guard.tsx';
import { reject } from './reject.tsx';
import { cohortRemoveRoutes } from './routes/cohort-remove-routes.tsx';
import { cohortRoutes } from './routes/cohort-routes.tsx';
import { deliveryRoutes } from './routes/delivery-routes.tsx';
import { letterRoutes } from './routes/letter-routes.tsx';
import { overviewRoutes } from './routes/overview-routes.tsx';
import { sessionRoutes } from './routes/session-routes.tsx';
import { sinkRoutes } from './routes/sink-routes.tsx';
import { createSessions } from './sessions.ts';
import { stylesheet } from './stylesheet.ts';
import { packageVersion } from './version.ts';

export type { InspectorDeps } from './deps.ts';

export interface Inspector {
  /** Mount with `app.route(deps.basePath, inspector.app)`. */
  app: Hono<InspectorEnv>;
  /** Takes a counter snapshot now (the last-hour window); the inspector also takes one each minute. */
  sample(): Promise<void>;
  /** Stops the minute timer and ends the live streams. */
  close(): void;
}

const defaultSessionTtlMs = 8 * 60 * 60 * 1000;
const sampleEveryMs = 60_000;
/** Form bodies: the by-filter confirm form names at most `bulkCap` letter ids. */
const maxFormBytes = 256 * 1024;

export function createInspector(deps: InspectorDeps): Inspector {
  const now = deps.now ?? Date.now;
  const base = deps.basePath.replace(/\/+$/, '');
  const closing = new AbortController();
  const ctx: InspectorContext = {
    deps,
    base,
    sessions:
      deps.tokens.length === 0
        ? undefined
        : createSessions({ ttlMs: deps.sessionTtlMs ?? defaultSessionTtlMs, now }),
    trusted: trustedProxyList(deps.trustedProxies ?? []),
    now,
    startedAt: deps.startedAt ?? now(),
    version: deps.version ?? packageVersion(),
    bulkCap: deps.bulkCap ?? 500,
    livePollMs: deps.livePollMs ?? 1000,
    history: createCounterHistory({ read: () => readTotals(deps.metrics.registry), now }),
    closing: closing.signal,
  };
  const sample = () =>
    ctx.history.sample().catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'inspector: could not read the counters');
    });
  void sample();
  const timer = setInterval(sample, sampleEveryMs);
  timer.unref();

  const app = new Hono<InspectorEnv>();
  app.use(async (c, next) => {
    // Mounted in the receiver, its request log set this; alone (tests), the inspector sets it.
    if (c.get('logLine') === undefined) c.set('logLine', {});
    await next();
    c.header('Cache-Control', 'no-store');
  });
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: [NONCE],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    }),
  );
  app.use(accessGuard(ctx));
  app.use(
    bodyLimit({
      maxSize: maxFormBytes,
      onError: (c) => reject(c, base, 413, 'form_too_large', `Forms are at most ${maxFormBytes} bytes.`),
    }),
  );
  app.use(csrfGuard(ctx));
  // The mass-exit hold banner of the overview and a cohort's page.
  app.onError((error, c) => {
    deps.logger.error({ err: error, path: c.req.path }, 'inspector: unexpected error');
    return reject(c, base, 500, 'internal', `The page failed: ${error.message}`);
  });

  app.get('/assets/inspect.css', (c) =>
    c.body(stylesheet, 200, { 'Content-Type': 'text/css; charset=utf-8' }),
  );
  app.route('/', sessionRoutes(ctx));
  app.route('/', overviewRoutes(ctx));
  app.route('/', deliveryRoutes(ctx));
  app.route('/', letterRoutes(ctx));
  app.route('/', cohortRoutes(ctx));
  app.route('/', cohortRemoveRoutes(ctx));
  app.route('/', sinkRoutes(ctx));
  app.all('*', (c) => {
    // Hono's paths are strict: `/inspect/` is not `/inspect`, the overview's address.
    if (c.req.path === `${base}/` && c.req.method === 'GET') return c.redirect(base, 308);
    return reject(c, base, 404, 'not_found', 'No such inspector page.');
  });

  return {
    app,
    sample,
    close() {
      clearInterval(timer);
      closing.abort();
    },
  };
}
