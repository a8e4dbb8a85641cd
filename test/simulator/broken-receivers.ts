/**
 * @module Deliberately broken receivers, each wrong in one way a real one can be, for proving the
 * simulator catches them. They speak the same webhook and read API as ours (default shape only).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

export const brokenKinds = ['arrival-order', 'reapplies-duplicates', 'drops-batches'] as const;
/**
 * - `arrival-order`: dedupes, but applies each message as it arrives (an add sets, a remove
 *   deletes), ignoring computed_time, so a late older message overrides a newer one.
 * - `reapplies-duplicates`: no dedupe, and counts adds minus removes per user (member while the
 *   count is above zero). Right under any reordering, wrong as soon as a message comes twice.
 * - `drops-batches`: a correct last-writer-wins register with dedupe, except that every fourth
 *   new message is answered 200 and thrown away (what a memory queue does when its process dies).
 */
export type BrokenKind = (typeof brokenKinds)[number];

interface Batch {
  cohortId: string;
  inCohort: boolean;
  computedTime: number;
  messageId: string;
  users: { userId: string; properties: unknown }[];
}

interface Member {
  since: number;
  properties: unknown;
}

/** Per cohort, per user: what the receiver lists. */
type Listing = Map<string, Map<string, Member>>;

export interface RunningBrokenReceiver {
  url: string;
  close(): Promise<void>;
}

export async function startBrokenReceiver(kind: BrokenKind): Promise<RunningBrokenReceiver> {
  const apply = {
    'arrival-order': arrivalOrder,
    'reapplies-duplicates': countingReceiver,
    'drops-batches': droppingReceiver,
  }[kind]();
  const app = new Hono();
  app.post('/webhook', async (c) => {
    const body = (await c.req.json()) as {
      cohort_id: string;
      in_cohort: boolean;
      computed_time: string;
      message_id: string;
      users: { user_id: string; user_properties?: unknown }[];
    };
    const outcome = apply.accept({
      cohortId: body.cohort_id,
      inCohort: body.in_cohort,
      computedTime: Number(body.computed_time),
      messageId: body.message_id,
      users: body.users.map((user) => ({ userId: user.user_id, properties: user.user_properties ?? null })),
    });
    return c.json({ status: outcome, message_id: body.message_id });
  });
  app.get('/cohorts/:cohort_id/members', (c) => {
    const ids = [...(apply.listing.get(c.req.param('cohort_id'))?.entries() ?? [])].sort(([a], [b]) =>
      a < b ? -1 : 1,
    );
    const limit = Number(c.req.query('limit') ?? 100);
    const start = Number(c.req.query('cursor') ?? 0);
    const page = ids.slice(start, start + limit);
    return c.json({
      cohort_id: c.req.param('cohort_id'),
      members: page.map(([userId, member]) => ({
        user_id: userId,
        since: member.since,
        user_properties: member.properties,
      })),
      next_cursor: start + limit < ids.length ? String(start + limit) : null,
    });
  });
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(started as Server),
    );
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Apply {
  listing: Listing;
  accept(batch: Batch): 'accepted' | 'duplicate';
}

const cohortOf = (listing: Listing, cohortId: string) => {
  const cohort = listing.get(cohortId) ?? new Map<string, Member>();
  listing.set(cohortId, cohort);
  return cohort;
};

function arrivalOrder(): Apply {
  const listing: Listing = new Map();
  const seen = new Set<string>();
  return {
    listing,
    accept(batch) {
      if (seen.has(batch.messageId)) return 'duplicate';
      seen.add(batch.messageId);
      const cohort = cohortOf(listing, batch.cohortId);
      for (const { userId, properties } of batch.users) {
        if (batch.inCohort) cohort.set(userId, { since: batch.computedTime, properties });
        else cohort.delete(userId);
      }
      return 'accepted';
    },
  };
}

function countingReceiver(): Apply {
  const listing: Listing = new Map();
  const counts = new Map<string, number>();
  const newestAdds = new Map<string, Member>();
  return {
    listing,
    accept(batch) {
      const cohort = cohortOf(listing, batch.cohortId);
      for (const { userId, properties } of batch.users) {
        const key = `${batch.cohortId}\u0000${userId}`;
        const count = (counts.get(key) ?? 0) + (batch.inCohort ? 1 : -1);
        counts.set(key, count);
        const newest = newestAdds.get(key);
        if (batch.inCohort && (newest === undefined || batch.computedTime >= newest.since)) {
          newestAdds.set(key, { since: batch.computedTime, properties });
        }
        const member = newestAdds.get(key);
        if (count > 0 && member) cohort.set(userId, member);
        else cohort.delete(userId);
      }
      return 'accepted';
    },
  };
}

function droppingReceiver(): Apply {
  const listing: Listing = new Map();
  const seen = new Set<string>();
  const registers = new Map<string, { computedTime: number; messageId: string }>();
  let accepted = 0;
  return {
    listing,
    accept(batch) {
      if (seen.has(batch.messageId)) return 'duplicate';
      seen.add(batch.messageId);
      accepted += 1;
      if (accepted % 4 === 0) return 'accepted';
      const cohort = cohortOf(listing, batch.cohortId);
      for (const { userId, properties } of batch.users) {
        const key = `${batch.cohortId}\u0000${userId}`;
        const stored = registers.get(key);
        const newer =
          stored === undefined ||
          batch.computedTime > stored.computedTime ||
          (batch.computedTime === stored.computedTime && batch.messageId > stored.messageId);
        if (!newer) continue;
        registers.set(key, { computedTime: batch.computedTime, messageId: batch.messageId });
        if (batch.inCohort) cohort.set(userId, { since: batch.computedTime, properties });
        else cohort.delete(userId);
      }
      return 'accepted';
    },
  };
}
