import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMemberCursor,
  encodeMemberCursor,
  type MemberRow,
  membersPage,
  pageRead,
} from '../../src/core/store/members-page.ts';

describe('member cursors', () => {
  it('round-trip any user id through URL-safe text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (userId) => {
        const cursor = encodeMemberCursor(userId);
        expect(cursor).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(decodeMemberCursor(cursor)).toBe(userId);
      }),
    );
  });
});

describe('members pages', () => {
  it('reads one row more than the limit, after the user id the cursor names', () => {
    expect(pageRead({ limit: 2 })).toEqual({ afterUserId: undefined, fetch: 3 });
    expect(pageRead({ limit: 2, cursor: encodeMemberCursor('u\u{1F600}') })).toEqual({
      afterUserId: 'u\u{1F600}',
      fetch: 3,
    });
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => pageRead({ limit })).toThrow(RangeError);
  });

  it('hands out a cursor only when a row beyond the limit was read', () => {
    const rows: MemberRow[] = [
      ['u1', 100, '{"plan":"pro"}', 'm1'],
      ['u2', '200', null, 'm2'],
      ['u3', 300, '', 'm3'],
    ];
    expect(membersPage(rows, 2)).toEqual({
      members: [
        { userId: 'u1', since: 100, messageId: 'm1', properties: { plan: 'pro' } },
        { userId: 'u2', since: 200, messageId: 'm2', properties: null },
      ],
      nextCursor: encodeMemberCursor('u2'),
    });
    expect(membersPage(rows, 3)).toEqual({
      members: [
        { userId: 'u1', since: 100, messageId: 'm1', properties: { plan: 'pro' } },
        { userId: 'u2', since: 200, messageId: 'm2', properties: null },
        { userId: 'u3', since: 300, messageId: 'm3', properties: null },
      ],
      nextCursor: null,
    });
    expect(membersPage([], 3)).toEqual({ members: [], nextCursor: null });
  });
});
