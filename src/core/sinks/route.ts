/**
 * @module Which changes a sink takes: `SINK_<NAME>_COHORTS` (cohort ids or globs on ids and names)
 * and `SINK_<NAME>_DIRECTIONS` (entered, left, updated). A change a sink does not route never
 * reaches it, its metrics, its backlog or its dead letters.
 */
import { z } from 'zod';
import type { MembershipChange } from '../store/store.ts';

export type Direction = MembershipChange['kind'];
export const directions: readonly Direction[] = ['entered', 'left', 'updated'];

export interface SinkRoute {
  /** Patterns matched against the cohort id and the cohort name; `*` any run, `?` one character. */
  cohorts: readonly string[];
  directions: readonly Direction[];
}

/** Takes every change: the default. */
export const everything: SinkRoute = { cohorts: ['*'], directions };

const list = (text: string) =>
  text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');

/** The two settings every sink reads beside its own, with their defaults. */
export const routeSettings = {
  COHORTS: z
    .string()
    .default('*')
    .transform(list)
    .refine((patterns) => patterns.length > 0, 'name at least one cohort id or glob, or * for all'),
  DIRECTIONS: z
    .string()
    .default(directions.join(','))
    .transform(list)
    .superRefine((entries, context) => {
      for (const entry of entries) {
        if (!(directions as readonly string[]).includes(entry)) {
          context.addIssue({
            code: 'custom',
            message: `unknown direction "${entry}"; known: ${directions.join(', ')}`,
          });
        }
      }
      if (entries.length === 0)
        context.addIssue({ code: 'custom', message: `name one of ${directions.join(', ')}` });
    })
    .transform((entries) => entries as Direction[]),
};

/**
 * The predicate of a route. Globs are matched whole, case-sensitively; a hand-written matcher
 * because path globs (picomatch, `path.matchesGlob`) stop `*` at `/`, and cohort names hold `/`.
 */
export function routeMatcher(
  route: SinkRoute,
): (change: Pick<MembershipChange, 'cohortId' | 'cohortName' | 'kind'>) => boolean {
  const all = route.cohorts.includes('*');
  const patterns = route.cohorts.map(globPattern);
  const kinds = new Set(route.directions);
  return (change) =>
    kinds.has(change.kind) &&
    (all || patterns.some((pattern) => pattern.test(change.cohortId) || pattern.test(change.cohortName)));
}

/** Whether the sink takes a cohort's members as `entered` changes: what a backfill sends it. */
export function routesMembersOf(route: SinkRoute, cohort: { cohortId: string; cohortName: string }): boolean {
  return routeMatcher(route)({ ...cohort, kind: 'entered' });
}

function globPattern(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (character) =>
    character === '*' ? '[\\s\\S]*' : character === '?' ? '[\\s\\S]' : `\\${character}`,
  );
  return new RegExp(`^${body}$`, 'u');
}
