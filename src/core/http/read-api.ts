/**
 * @module The read side: cohorts, their members, a user's cohorts (docs/design.md#read-api), and the
 * one write beside them: removing a cohort.
 */
import { type Context, Hono } from 'hono';
import type { Logger } from 'pino';
import { InvalidQueryError } from '../errors.ts';
import type { CohortSummary, Member, MembershipStore, UserCohort } from '../store/store.ts';
import type { AppEnv } from './app-env.ts';
import { type ExportFormat, exportMembers, responseCutter } from './member-export.ts';

const defaultLimit = 100;
const maxLimit = 1000;

// The wire format: snake_case, as Amplitude's own payloads.
const cohortJson = (cohort: CohortSummary) => ({
  cohort_id: cohort.cohortId,
  cohort_name: cohort.cohortName,
  members: cohort.members,
  updated_at: cohort.updatedAt,
});
const memberJson = (member: Member) => ({
  user_id: member.userId,
  since: member.since,
  user_properties: member.properties,
});
const userCohortJson = (cohort: UserCohort) => ({
  cohort_id: cohort.cohortId,
  cohort_name: cohort.cohortName,
  since: cohort.since,
});

export interface ReadApiOptions {
  /** Hears a member export that ended early (member-export.ts). */
  logger?: Pick<Logger, 'info' | 'warn'> | undefined;
  /** Members an export reads per page. @default exportPageSize (member-export.ts) */
  exportPageSize?: number | undefined;
}

export function readApi(store: MembershipStore, options: ReadApiOptions = {}) {
  /** The whole cohort as one file, streamed (member-export.ts); a store away before the first byte is a 503. */
  const download = async (c: Context<AppEnv>, cohortId: string, format: ExportFormat) => {
    const exported = await exportMembers(store, cohortId, format, {
      logger: options.logger,
      pageSize: options.exportPageSize,
      abortResponse: responseCutter(c.env),
    });
    return c.body(exported.body, 200, exported.headers);
  };
  return (
    new Hono<AppEnv>()
      .get('/cohorts', async (c) => c.json({ cohorts: (await store.listCohorts()).map(cohortJson) }))
      .get('/cohorts/:cohort_id/members', async (c) => {
        const cohortId = c.req.param('cohort_id');
        const limitText = c.req.query('limit');
        const limit = limitText === undefined ? defaultLimit : Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
          throw new InvalidQueryError('invalid_limit', `limit must be an integer from 1 to ${maxLimit}`);
        }
        const page = await store.listMembers(cohortId, { limit, cursor: c.req.query('cursor') });
        return c.json({
          cohort_id: cohortId,
          members: page.members.map(memberJson),
          next_cursor: page.nextCursor,
        });
      })
      .get('/cohorts/:cohort_id/members.csv', (c) => download(c, c.req.param('cohort_id'), 'csv'))
      .get('/cohorts/:cohort_id/members.ndjson', (c) => download(c, c.req.param('cohort_id'), 'ndjson'))
      // Clears out a cohort nobody wants any more (one `npm run simulate` made); the secret guards it.
      .delete('/cohorts/:cohort_id', async (c) => {
        const cohortId = c.req.param('cohort_id');
        if (!(await store.removeCohort(cohortId))) {
          return c.json({ error: 'not_found', cohort_id: cohortId }, 404);
        }
        return c.json({ cohort_id: cohortId, removed: true });
      })
      .get('/users/:user_id/cohorts', async (c) => {
        const userId = c.req.param('user_id');
        return c.json({ user_id: userId, cohorts: (await store.userCohorts(userId)).map(userCohortJson) });
      })
  );
}
