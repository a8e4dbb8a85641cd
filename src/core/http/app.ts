/** @module createApp(deps): the Hono app. No I/O at import; everything it touches comes in `deps`. */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { DeadLetters } from '../dead-letters/dead-letters.ts';
import { MethodNotAllowedError } from '../errors.ts';
import type { ReceiverEvents } from '../events.ts';
import type { BatchParser } from '../payload/parse-batch.ts';
import type { Queue } from '../queue/queue.ts';
import type { MembershipStore } from '../store/store.ts';
import type { AppEnv } from './app-env.ts';
import { errorAnswer } from './error-answer.ts';
import { readAfter } from './read-after.ts';
import { readApi } from './read-api.ts';
import { requestLog } from './request-log.ts';
import { requireAuth } from './require-auth.ts';
import { webhookRoute } from './webhook.ts';

export interface AppDeps {
  queue: Queue;
  deadLetters: DeadLetters;
  parseBatch: BatchParser;
  events: ReceiverEvents;
  logger: Logger;
  auth: { tokens: string[]; header: string };
  /** Where Amplitude posts and how large a body may be; absent in a process that takes no webhooks. */
  webhook?: { path: string; maxBodyBytes: number } | undefined;
  /** Serves the read API; absent in a process that has no store to read from. */
  store?: MembershipStore | undefined;
  /** False while the apply path pays its first-use costs: /readyz answers 503 until then. */
  applyPathWarm?: (() => boolean) | undefined;
}

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const auth = requireAuth(deps.auth);
  app.use(requestLog(deps));
  app.onError(errorAnswer(deps));
  app.notFound((c) => c.json({ error: 'not_found' }, 404));

  if (deps.webhook) {
    const { path, maxBodyBytes } = deps.webhook;
    app.post(path, auth, webhookRoute({ ...deps, maxBodyBytes }));
    // After the POST route, so it sees every other method: a GET on the webhook URL learns what to
    // send instead of a 404 that reads as a wrong URL.
    app.all(path, () => {
      throw new MethodNotAllowedError(['POST']);
    });
  }

  // Probes stay open: orchestrators probe without the shared secret, and the answers reveal
  // nothing but liveness and a reason.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const problems = await readinessProblems(deps);
    if (problems.length > 0) return c.json({ status: 'unavailable', reasons: problems }, 503);
    return c.json({ status: 'ready' });
  });

  if (deps.store) {
    // After auth: an unauthenticated client learns nothing, and waits for nothing.
    const after = readAfter(deps.queue);
    app.use('/cohorts/*', auth, after);
    app.use('/cohorts', auth, after);
    app.use('/users/*', auth, after);
    app.route('/', readApi(deps.store, { logger: deps.logger }));
  }
  return app;
}

async function readinessProblems({ queue, store, applyPathWarm }: AppDeps): Promise<string[]> {
  const checks = [{ name: 'queue', check: () => queue.check() }];
  if (store) checks.push({ name: 'store', check: () => store.check() });
  const results = await Promise.allSettled(checks.map(({ check }) => check()));
  const problems = results.flatMap((result, index) =>
    result.status === 'rejected' ? [`${checks[index]?.name}: ${(result.reason as Error).message}`] : [],
  );
  if (applyPathWarm?.() === false) problems.push('apply: warming up');
  return problems;
}
