/**
 * @module Every refusal the inspector makes: a status, what was wrong (JSON for programs, the same
 * words on a page for a browser), and the reason on the request's log line and metric.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { InspectorEnv } from './env.ts';
import { Page } from './views/layout.tsx';

export const wantsHtml = (c: Context<InspectorEnv>) => (c.req.header('accept') ?? '').includes('text/html');

export function reject(
  c: Context<InspectorEnv>,
  base: string,
  status: ContentfulStatusCode,
  error: string,
  detail: string,
) {
  const fields = c.get('logLine');
  fields.reason = error;
  fields.detail = detail;
  if (!wantsHtml(c)) return c.json({ error, detail }, status);
  return c.html(
    <Page title={titles[status] ?? 'Refused'} base={base} loggedIn={c.get('loggedIn') ?? false}>
      <p class="error">{detail}</p>
      <p class="muted">
        <code>{error}</code> (HTTP {status})
      </p>
    </Page>,
    status,
  );
}

const titles: Partial<Record<number, string>> = {
  400: 'Bad request',
  401: 'Log in first',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Not possible here',
  413: 'Too large',
  415: 'Unsupported form',
};
