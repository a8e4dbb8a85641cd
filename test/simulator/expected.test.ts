import { describe, expect, it } from 'vitest';
import { compareMembership, sameJson } from '../../simulator/compare.ts';
import { expectedMembership, registerHistory } from '../../simulator/expected.ts';
import type { PlannedMessage } from '../../simulator/plan.ts';
import type { ListedCohort } from '../../simulator/read-back.ts';

let index = 0;
function message(overrides: Partial<PlannedMessage>): PlannedMessage {
  const planned = {
    index,
    step: 0,
    cohortId: 'c1',
    cohortName: 'Cohort',
    inCohort: true,
    computedTime: 100,
    messageId: `m${index}`,
    users: [{ userId: 'u1' }],
    ...overrides,
  };
  index += 1;
  return planned;
}

describe('expectedMembership', () => {
  it('lets the newest message by computed_time win, whatever the plan order', () => {
    const messages = [
      message({ computedTime: 300, users: [{ userId: 'u1', properties: { plan: 'pro' } }] }),
      message({ computedTime: 200, inCohort: false }),
      message({ computedTime: 100, users: [{ userId: 'u1', properties: { plan: 'trial' } }] }),
    ];
    expect([...(expectedMembership(registerHistory(messages)).get('c1')?.values() ?? [])]).toEqual([
      { userId: 'u1', since: 300, properties: { plan: 'pro' }, messageIndex: messages[0]?.index },
    ]);
  });

  it('keeps a removal as the winner, so an older add cannot bring the user back', () => {
    const messages = [message({ computedTime: 200, inCohort: false }), message({ computedTime: 100 })];
    expect(expectedMembership(registerHistory(messages)).get('c1')?.size).toBe(0);
  });

  it('breaks a computed_time tie by message_id', () => {
    const messages = [
      message({ computedTime: 100, messageId: 'b', inCohort: false }),
      message({ computedTime: 100, messageId: 'a' }),
    ];
    expect(expectedMembership(registerHistory(messages)).get('c1')?.size).toBe(0);
  });

  it('expects null properties when the winning message carried none', () => {
    const messages = [message({ computedTime: 100, users: [{ userId: 'u1' }] })];
    expect(expectedMembership(registerHistory(messages)).get('c1')?.get('u1')?.properties).toBeNull();
  });
});

describe('compareMembership', () => {
  const expected = expectedMembership(
    registerHistory([
      message({
        cohortId: 'c9',
        users: [{ userId: 'a', properties: { n: 1 } }, { userId: 'b' }, { userId: 'c' }],
      }),
    ]),
  );
  const listed: ListedCohort = {
    members: new Map([
      ['a', { userId: 'a', since: 100, properties: { n: 2 } }],
      ['b', { userId: 'b', since: 99, properties: null }],
      ['z', { userId: 'z', since: 100, properties: null }],
    ]),
    listedTwice: ['a'],
  };

  it('lists missing, extra, wrong since, wrong properties and double listings', () => {
    const differences = compareMembership(['c9'], expected, new Map([['c9', listed]]), {
      since: true,
      properties: true,
    });
    expect(differences.map(({ kind, userId }) => `${kind} ${userId}`)).toEqual([
      'wrong-properties a',
      'wrong-since b',
      'missing c',
      'extra z',
      'listed-twice a',
    ]);
  });

  it('skips the since check when told to (the per-user flag list)', () => {
    const differences = compareMembership(['c9'], expected, new Map([['c9', listed]]), {
      since: false,
      properties: true,
    });
    expect(differences.some((difference) => difference.kind === 'wrong-since')).toBe(false);
  });

  it('compares JSON values regardless of key order', () => {
    expect(sameJson({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJson([1, 2], { 0: 1, 1: 2 })).toBe(false);
  });
});
