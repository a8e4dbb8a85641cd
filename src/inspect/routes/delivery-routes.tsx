/** @module Deliveries: the list, one delivery, and the live tail (Server-Sent Events). */

import type { Context } from 'hono';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { type InspectorContext, pageOf } from '../context.ts';
import { type DeliveryOutcome, type DeliveryQuery, deliveryOutcomes } from '../deliveries/delivery-log.ts';
import { matchesQuery } from '../deliveries/rows.ts';
import { deliveryRow, withBodyHints } from '../delivery-row.ts';
import type { InspectorEnv } from '../env.ts';
import { parseUtc } from '../format.ts';
import { sessionCookie } from '../guard.tsx';
import { reject } from '../reject.tsx';
import { DeliveriesPage, type DeliveryFilters } from '../views/deliveries.tsx';
import { DeliveryPage } from '../views/delivery.tsx';

const pageSize = 50;
/** Rows one poll of the live tail takes; more are taken by the next poll at once. */
const liveBatch = 100;
/** A comment line this often keeps proxies from closing a quiet stream. */
const keepAliveMs = 15_000;

/**
 * JSON with U+2028 / U+2029 escaped: valid JSON either way, but many line readers (a JS regex's
 * `$`, some proxies' and clients' line splitters) break on them, which would cut an event in two.
 */
export const eventData = (value: unknown) =>
  JSON.stringify(value).replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');

interface ParsedFilters {
  filters: DeliveryFilters;
  query: Omit<DeliveryQuery, 'limit'>;
  /** The filters as a query string (no cursor). */
  text: string;
}

function parseFilters(c: Context<InspectorEnv>): ParsedFilters | { error: string } {
  const outcome = c.req.query('outcome') || undefined;
  const cohort = c.req.query('cohort')?.trim() || undefined;
  const direction = c.req.query('direction') || undefined;
  const from = parseUtc(c.req.query('from'));
  const to = parseUtc(c.req.query('to'));
  if (outcome !== undefined && !deliveryOutcomes.includes(outcome as DeliveryOutcome)) {
    return { error: `outcome must be one of ${deliveryOutcomes.join(', ')}` };
  }
  if (direction !== undefined && direction !== 'in' && direction !== 'out') {
    return { error: 'direction must be in or out' };
  }
  if (Number.isNaN(from) || Number.isNaN(to)) return { error: 'from and to must be dates (UTC)' };
  const query: Omit<DeliveryQuery, 'limit'> = {};
  const text = new URLSearchParams();
  if (outcome !== undefined) {
    query.outcome = outcome as DeliveryOutcome;
    text.set('outcome', outcome);
  }
  if (cohort !== undefined) {
    query.cohortId = cohort;
    text.set('cohort', cohort);
  }
  if (direction !== undefined) {
    query.inCohort = direction === 'in';
    text.set('direction', direction);
  }
  if (from !== undefined) {
    query.from = from;
    text.set('from', new Date(from).toISOString());
  }
  if (to !== undefined) {
    query.to = to;
    text.set('to', new Date(to).toISOString());
  }
  return { filters: { outcome, cohort, direction, from, to }, query, text: text.toString() };
}

export function deliveryRoutes(ctx: InspectorContext) {
  const { base, deps } = ctx;
  const app = new Hono<InspectorEnv>();

  app.get('/deliveries', async (c) => {
    const parsed = parseFilters(c);
    if ('error' in parsed) return reject(c, base, 400, 'invalid_filter', parsed.error);
    const before = c.req.query('before') || undefined;
    const [page, newest] = await Promise.all([
      deps.deliveryLog.list({ ...parsed.query, limit: pageSize, ...(before ? { before } : {}) }),
      // The live tail starts after the newest row that exists now, whatever the filters show.
      deps.deliveryLog.since(undefined, 1),
    ]);
    // Only the rows shown read their letters (a rejected body's message_id and cohort).
    const shown = await withBodyHints(page.deliveries, deps.deadLetters);
    return c.html(
      <DeliveriesPage
        {...pageOf(ctx, c)}
        nonce={c.get('secureHeadersNonce')}
        rows={shown.map((delivery) => deliveryRow(delivery, base))}
        filters={parsed.filters}
        filterQuery={parsed.text}
        nextCursor={page.nextCursor}
        paged={before !== undefined}
        liveAfter={newest.at(-1)?.id ?? ''}
      />,
    );
  });

  app.get('/delivery', async (c) => {
    const messageId = c.req.query('message_id')?.trim();
    if (!messageId) return reject(c, base, 400, 'message_id_required', 'Give a message_id to look up.');
    const delivery = await deps.deliveryLog.get(messageId);
    if (delivery === undefined) {
      return reject(
        c,
        base,
        404,
        'delivery_not_found',
        `No kept delivery has message_id ${JSON.stringify(messageId)}.`,
      );
    }
    const [shown] = await withBodyHints([delivery], deps.deadLetters);
    return c.html(<DeliveryPage {...pageOf(ctx, c)} delivery={shown ?? delivery} />);
  });

  app.get('/deliveries/live', (c) => {
    const parsed = parseFilters(c);
    if ('error' in parsed) return reject(c, base, 400, 'invalid_filter', parsed.error);
    // A reconnecting EventSource sends the last id it saw; a fresh one (or a resume) passes ?after.
    let after = c.req.header('last-event-id') || c.req.query('after') || undefined;
    const cookie = getCookie(c, sessionCookie);
    const query: DeliveryQuery = { ...parsed.query, limit: liveBatch };
    return streamSSE(c, async (stream) => {
      let lastWrite = ctx.now();
      while (!stream.aborted && !stream.closed && !ctx.closing.aborted) {
        // The stream outlives the request's check: a session that ends mid-stream ends the stream.
        if (ctx.sessions !== undefined && typeof ctx.sessions.find(cookie) !== 'object') {
          await stream.writeSSE({ event: 'expired', data: '{}' });
          return;
        }
        const fresh = await deps.deliveryLog.since(after, liveBatch);
        for (const delivery of fresh) {
          after = delivery.id;
          if (!matchesQuery(delivery, query)) continue;
          const [shown] = await withBodyHints([delivery], deps.deadLetters);
          await stream.writeSSE({
            event: 'delivery',
            id: delivery.id,
            data: eventData(deliveryRow(shown ?? delivery, base)),
          });
          lastWrite = ctx.now();
        }
        if (fresh.length === liveBatch) continue;
        if (ctx.now() - lastWrite >= keepAliveMs) {
          await stream.write(': keep-alive\n\n');
          lastWrite = ctx.now();
        }
        await stream.sleep(ctx.livePollMs);
      }
    });
  });
  return app;
}
