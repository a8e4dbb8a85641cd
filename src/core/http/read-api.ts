/** @module The read side: cohorts, their members, a user's cohorts (docs/design.md#read-api). */
import { Hono } from 'hono';
import { InvalidQueryError } from '../errors.ts';
import type { CohortSummary, Member, MembershipStore, UserCohort } from '../store/store.ts';
import type { AppEnv } from './app-env.ts';

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

export function readApi(store: MembershipStore) {
  return new Hono<AppEnv>()
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
    .get('/users/:user_id/cohorts', async (c) => {
      const userId = c.req.param('user_id');
      return c.json({ user_id: userId, cohorts: (await store.userCohorts(userId)).map(userCohortJson) });
    });
}
