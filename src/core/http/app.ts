/** @module createApp(deps): the Hono app. No I/O at import; everything it touches comes in `deps`. */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { DeliveryLog } from '../../inspect/deliveries/delivery-log.ts';
import type { Inspector } from '../../inspect/inspector.tsx';
import type { Metrics } from '../../runtime/metrics.ts';
import type { DeadLetters } from '../dead-letters/dead-letters.ts';
import type { BatchParser } from '../payload/parse-batch.ts';
import type { Queue } from '../queue/queue.ts';
import type { MembershipStore } from '../store/store.ts';
import type { AppEnv } from './app-env.ts';
import { errorResponder } from './error-answer.ts';
import { methodNotAllowed } from './method-not-allowed.ts';
import { readApi } from './read-api.ts';
import { requestLog } from './request-log.ts';
import { requireAuth } from './require-auth.ts';
import { webhookHandler } from './webhook.ts';

export interface AppDeps {
  queue: Queue;
  /** Absent in a receiver-only process that has no store to read from. */
  store?: MembershipStore | undefined;
  deadLetters: DeadLetters;
  parseBatch: BatchParser;
  metrics: Metrics;
  logger: Logger;
  webhookPath: string;
  /** False in a ROLE=worker process: the webhook route is absent (404). @default true */
  receiveWebhooks?: boolean;
  maxBodyBytes: number;
  auth: { tokens: string[]; header: string };
  /** Where the webhook records what it answered, for the inspector. @default nothing is recorded */
  deliveryLog?: DeliveryLog | undefined;
  /** The inspector page and where to mount it (docs/inspect.md). Absent with INSPECT=off. */
  inspector?: { path: string; app: Inspector['app'] } | undefined;
}

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const auth = requireAuth(deps.auth);
  app.use(requestLog(deps));
  app.onError(errorResponder(deps));
  app.notFound((c) => c.json({ error: 'not_found' }, 404));

  if (deps.receiveWebhooks !== false) {
    app.post(deps.webhookPath, auth, webhookHandler(deps));
    // Registered after the POST route, so it sees every other method: a GET or a probe on the
    // webhook URL learns what to send instead of a 404 that reads as a wrong URL.
    app.all(deps.webhookPath, methodNotAllowed(['POST']));
  }

  // Probes stay open: orchestrators and load balancers probe without the shared secret, and the
  // answers reveal nothing but liveness and a reason.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const problems = await readinessProblems(deps);
    if (problems.length > 0) return c.json({ status: 'unavailable', reasons: problems }, 503);
    return c.json({ status: 'ready' });
  });

  app.get('/metrics', auth, async (c) => {
    c.header('Content-Type', deps.metrics.registry.contentType);
    return c.body(await deps.metrics.registry.metrics());
  });
  if (deps.store) {
    app.use('/cohorts/*', auth);
    app.use('/cohorts', auth);
    app.use('/users/*', auth);
    app.route('/', readApi(deps.store));
  }
  if (deps.inspector) mountInspector(app, deps, deps.inspector);
  return app;
}

/**
 * Serves the inspector from an app of its own, chosen by path before any routing: its routes
 * would otherwise move Hono off its fastest router for the whole app, the webhook included. It
 * has its own login (a session cookie), not the webhook's shared-secret header.
 */
function mountInspector(app: Hono<AppEnv>, deps: AppDeps, inspector: NonNullable<AppDeps['inspector']>) {
  const pages = new Hono<AppEnv>();
  pages.use(requestLog(deps));
  pages.onError(errorResponder(deps));
  pages.notFound((c) => c.json({ error: 'not_found' }, 404));
  pages.route(inspector.path, inspector.app);
  const serveMain = app.fetch;
  app.fetch = (request, env, executionContext) =>
    underPath(request.url, inspector.path)
      ? pages.fetch(request, env, executionContext)
      : serveMain(request, env, executionContext);
}

/** Whether `url`'s path is `path` or below it, read without parsing the URL. */
function underPath(url: string, path: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0 || !url.startsWith(path, start)) return false;
  const next = url.charCodeAt(start + path.length);
  return Number.isNaN(next) || next === 47 || next === 63 || next === 35; // end, '/', '?', '#'
}

async function readinessProblems({ queue, store }: AppDeps): Promise<string[]> {
  const checks = [{ name: 'queue', check: () => queue.check() }];
  if (store) checks.push({ name: 'store', check: () => store.check() });
  const results = await Promise.allSettled(checks.map(({ check }) => check()));
  return results.flatMap((result, index) =>
    result.status === 'rejected' ? [`${checks[index]?.name}: ${(result.reason as Error).message}`] : [],
  );
}
