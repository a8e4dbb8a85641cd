import { describe, expect, it } from 'vitest';
import { everything, routeMatcher, routesMembersOf } from '../../src/core/sinks/route.ts';

const change = (cohortId: string, cohortName: string, kind: 'entered' | 'left' | 'updated' = 'entered') => ({
  cohortId,
  cohortName,
  kind,
});

describe('sink routes', () => {
  it('takes everything by default', () => {
    const takes = routeMatcher(everything);
    expect(takes(change('a', 'A'))).toBe(true);
    expect(takes(change('b', 'B/c', 'left'))).toBe(true);
  });

  it('matches globs whole, on the id or the name, across "/" and regex characters', () => {
    const takes = routeMatcher({
      cohorts: ['q3k9xw1', 'Trial *', 'team/?.x(1)'],
      directions: ['entered', 'left', 'updated'],
    });
    expect(takes(change('q3k9xw1', 'anything'))).toBe(true);
    expect(takes(change('q3k9xw12', 'anything'))).toBe(false);
    expect(takes(change('zz', 'Trial ending / soon'))).toBe(true);
    expect(takes(change('zz', 'A Trial x'))).toBe(false);
    expect(takes(change('team/a.x(1)', 'n'))).toBe(true);
    expect(takes(change('team/ab.x(1)', 'n'))).toBe(false);
    expect(takes(change('team/a.xx1)', 'n'))).toBe(false);
  });

  it('takes only the directions named', () => {
    const takes = routeMatcher({ cohorts: ['*'], directions: ['left'] });
    expect(takes(change('a', 'A', 'left'))).toBe(true);
    expect(takes(change('a', 'A', 'entered'))).toBe(false);
    expect(takes(change('a', 'A', 'updated'))).toBe(false);
  });

  it('backfills a cohort only when the sink takes its members as entered changes', () => {
    expect(
      routesMembersOf({ cohorts: ['a'], directions: ['entered'] }, { cohortId: 'a', cohortName: 'A' }),
    ).toBe(true);
    expect(
      routesMembersOf({ cohorts: ['a'], directions: ['left'] }, { cohortId: 'a', cohortName: 'A' }),
    ).toBe(false);
    expect(
      routesMembersOf({ cohorts: ['b'], directions: ['entered'] }, { cohortId: 'a', cohortName: 'A' }),
    ).toBe(false);
  });
});
