/**
 * The MembershipStore contract: every implementation (memory, sqlite, redis, postgres) runs this
 * suite through `describeStoreContract(name, factory)`, and must reach the state the oracle in
 * `test/support/oracle.ts` computes, whatever the order and repetition of the batches.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CohortBatch, CohortUser } from '../../src/core/batch.ts';
import { defaultPayloadLimits } from '../../src/core/payload/limits.ts';
import type { Member, MembershipChange, MembershipStore, UserCohort } from '../../src/core/store/store.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { type ExpectedState, expectedState } from '../support/oracle.ts';

export type StoreFactory = () => Promise<{ store: MembershipStore; cleanup: () => Promise<void> }>;

/** Every member of a cohort, read page by page the way an API client would. */
export async function allMembers(store: MembershipStore, cohortId: string, limit = 2): Promise<Member[]> {
  const members: Member[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page += 1) {
    const result = await store.listMembers(cohortId, { limit, cursor });
    expect(result.members.length).toBeLessThanOrEqual(limit);
    members.push(...result.members);
    if (result.nextCursor === null) return members;
    cursor = result.nextCursor;
  }
  throw new Error(`listMembers(${cohortId}) never returned a null nextCursor`);
}

const kindsByUser = (changes: MembershipChange[]) => changes.map(({ userId, kind }) => [userId, kind]);
const memberIds = async (store: MembershipStore, cohortId = 'c1') =>
  (await allMembers(store, cohortId)).map((member) => member.userId);

export interface ContractOptions {
  /**
   * Runs of each property test (a fresh store each). @default 100. Fewer for a store that is slow
   * to open (one on the apply thread) whose logic the in-process runs already cover.
   */
  propertyRuns?: number;
}

export function describeStoreContract(name: string, factory: StoreFactory, options: ContractOptions = {}) {
  const numRuns = options.propertyRuns ?? 100;
  describe(`MembershipStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const open = async () => {
      const made = await factory();
      cleanups.push(async () => {
        await made.store.close();
        await made.cleanup();
      });
      return made.store;
    };
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('applies adds and lists the members, the cohort and each user’s cohorts', async () => {
      const store = await open();
      const changes = await store.applyBatch(
        cohortBatch({
          cohortName: 'Power users',
          computedTime: 1_692_206_763,
          messageId: 'm1',
          users: [{ userId: 'u1', properties: { plan: 'pro', seats: 3 } }, { userId: 'u2' }],
        }),
      );

      expect(changes).toEqual([
        {
          cohortId: 'c1',
          cohortName: 'Power users',
          userId: 'u1',
          kind: 'entered',
          computedTime: 1_692_206_763,
          messageId: 'm1',
          properties: { plan: 'pro', seats: 3 },
        },
        {
          cohortId: 'c1',
          cohortName: 'Power users',
          userId: 'u2',
          kind: 'entered',
          computedTime: 1_692_206_763,
          messageId: 'm1',
        },
      ]);
      expect(await store.listCohorts()).toEqual([
        { cohortId: 'c1', cohortName: 'Power users', members: 2, updatedAt: 1_692_206_763 },
      ]);
      expect(await store.listMembers('c1', { limit: 10 })).toEqual({
        members: [
          { userId: 'u1', since: 1_692_206_763, messageId: 'm1', properties: { plan: 'pro', seats: 3 } },
          { userId: 'u2', since: 1_692_206_763, messageId: 'm1', properties: null },
        ],
        nextCursor: null,
      });
      expect(await store.userCohorts('u1')).toEqual([
        { cohortId: 'c1', cohortName: 'Power users', since: 1_692_206_763 },
      ]);
    });

    it('answers empty for a cohort or user it has never seen', async () => {
      const store = await open();
      expect(await store.listCohorts()).toEqual([]);
      expect(await store.listMembers('nope', { limit: 10 })).toEqual({ members: [], nextCursor: null });
      expect(await store.userCohorts('nobody')).toEqual([]);
    });

    it('a removal that arrives before an older add leaves the user out', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ inCohort: false, computedTime: 200, users: usersOf('u1') }));
      const lateAdd = await store.applyBatch(
        cohortBatch({ inCohort: true, computedTime: 100, users: usersOf('u1') }),
      );

      expect(lateAdd).toEqual([]);
      expect(await memberIds(store)).toEqual([]);
      expect(await store.userCohorts('u1')).toEqual([]);
      expect((await store.listCohorts())[0]?.members).toBe(0);
    });

    it('a removal that arrives after a newer add does not remove the user', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ inCohort: true, computedTime: 200, users: usersOf('u1') }));
      const lateRemoval = await store.applyBatch(
        cohortBatch({ inCohort: false, computedTime: 100, users: usersOf('u1') }),
      );

      expect(lateRemoval).toEqual([]);
      expect(await memberIds(store)).toEqual(['u1']);
    });

    it('applying the same batch again returns no changes and changes nothing, even after a newer message', async () => {
      const store = await open();
      const add = cohortBatch({ computedTime: 100, users: [{ userId: 'u1', properties: { plan: 'free' } }] });
      const removal = cohortBatch({ inCohort: false, computedTime: 200, users: usersOf('u2') });
      await store.applyBatch(add);
      await store.applyBatch(removal);
      const before = await snapshot(store, ['u1', 'u2']);

      expect(await store.applyBatch(add)).toEqual([]);
      expect(await store.applyBatch(removal)).toEqual([]);
      expect(await snapshot(store, ['u1', 'u2'])).toEqual(before);

      await store.applyBatch(
        cohortBatch({ computedTime: 300, users: [{ userId: 'u1', properties: { plan: 'pro' } }] }),
      );
      expect(await store.applyBatch(add)).toEqual([]);
      expect((await allMembers(store, 'c1'))[0]?.properties).toEqual({ plan: 'pro' });
    });

    it('breaks a computedTime tie by messageId: the greater messageId wins whatever the order', async () => {
      for (const order of [
        ['m-a', 'm-b'],
        ['m-b', 'm-a'],
      ]) {
        const store = await open();
        for (const messageId of order) {
          await store.applyBatch(
            cohortBatch({
              messageId,
              inCohort: messageId === 'm-b',
              computedTime: 100,
              users: usersOf('u1'),
            }),
          );
        }
        expect(await memberIds(store)).toEqual(['u1']);
      }
    });

    it('orders message ids and user ids by code point (UTF-8 bytes), not by UTF-16 code units', async () => {
      const store = await open();
      // U+1F600 is above U+FF5E as a code point, below it as a UTF-16 code unit (0xD83D).
      const astral = '\u{1F600}';
      const highBmp = '\uFF5E';
      await store.applyBatch(cohortBatch({ messageId: astral, computedTime: 100, users: usersOf('u1') }));
      const lost = await store.applyBatch(
        cohortBatch({ messageId: highBmp, inCohort: false, computedTime: 100, users: usersOf('u1') }),
      );
      expect(lost).toEqual([]);
      expect(await memberIds(store)).toEqual(['u1']);

      await store.applyBatch(cohortBatch({ computedTime: 300, users: usersOf(astral, highBmp, 'z', 'é') }));
      expect(await memberIds(store)).toEqual(['u1', 'z', 'é', highBmp, astral]);
    });

    it('reports entered, left and updated only when membership or properties really change', async () => {
      const store = await open();
      const apply = (inCohort: boolean, computedTime: number, users: CohortUser[]) =>
        store.applyBatch(cohortBatch({ inCohort, computedTime, users })).then(kindsByUser);

      expect(await apply(true, 100, [{ userId: 'u1', properties: { plan: 'free' } }])).toEqual([
        ['u1', 'entered'],
      ]);
      // Still in with the same properties: the register moves on, nothing changes.
      expect(await apply(true, 110, [{ userId: 'u1', properties: { plan: 'free' } }])).toEqual([]);
      expect(await apply(true, 120, [{ userId: 'u1', properties: { plan: 'pro' } }])).toEqual([
        ['u1', 'updated'],
      ]);
      expect(await apply(true, 130, usersOf('u1'))).toEqual([['u1', 'updated']]);
      // Stale: older than what is stored.
      expect(await apply(false, 90, usersOf('u1'))).toEqual([]);
      expect(await apply(false, 140, usersOf('u1'))).toEqual([['u1', 'left']]);
      expect(await apply(false, 150, usersOf('u1'))).toEqual([]);
      // Removing someone never seen records a tombstone and changes nothing.
      expect(await apply(false, 150, usersOf('u2'))).toEqual([]);
      expect(await apply(true, 140, usersOf('u2'))).toEqual([]);
      expect(await apply(true, 160, usersOf('u1', 'u2'))).toEqual([
        ['u1', 'entered'],
        ['u2', 'entered'],
      ]);
    });

    it('returns each change with the winning message’s version and properties', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1') }));
      const changes = await store.applyBatch(
        cohortBatch({
          cohortName: 'Renamed',
          computedTime: 200,
          messageId: 'm-200',
          users: [{ userId: 'u1', properties: { plan: 'pro' } }],
        }),
      );
      expect(changes).toEqual([
        {
          cohortId: 'c1',
          cohortName: 'Renamed',
          userId: 'u1',
          kind: 'updated',
          computedTime: 200,
          messageId: 'm-200',
          properties: { plan: 'pro' },
        },
      ]);
    });

    it('keeps the properties of the winning message, null when it carried none', async () => {
      const store = await open();
      const nested = { plan: 'pro', tags: ['a', 'b'], address: { city: 'Zürich' }, score: 1.5, flag: null };
      const winner = cohortBatch({ computedTime: 200, users: [{ userId: 'u1', properties: nested }] });
      await store.applyBatch(winner);
      await store.applyBatch(
        cohortBatch({ computedTime: 100, users: [{ userId: 'u1', properties: { plan: 'old' } }] }),
      );
      // The member carries the register's whole version: the winner's computedTime and messageId.
      expect(await allMembers(store, 'c1')).toEqual([
        { userId: 'u1', since: 200, messageId: winner.messageId, properties: nested },
      ]);

      const newer = cohortBatch({ computedTime: 300, users: usersOf('u1') });
      await store.applyBatch(newer);
      expect(await allMembers(store, 'c1')).toEqual([
        { userId: 'u1', since: 300, messageId: newer.messageId, properties: null },
      ]);
    });

    it('gives as `since` the computedTime of the newest add, the one the register holds', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1') }));
      await store.applyBatch(cohortBatch({ computedTime: 200, users: usersOf('u1') }));
      expect((await allMembers(store, 'c1'))[0]?.since).toBe(200);
      expect((await store.userCohorts('u1'))[0]?.since).toBe(200);
    });

    it('treats a user listed twice in one batch in order: the second listing is a no-op', async () => {
      const store = await open();
      const changes = await store.applyBatch(
        cohortBatch({
          users: [
            { userId: 'u1', properties: { n: 1 } },
            { userId: 'u1', properties: { n: 2 } },
          ],
        }),
      );
      expect(kindsByUser(changes)).toEqual([['u1', 'entered']]);
      expect(await allMembers(store, 'c1')).toEqual([
        { userId: 'u1', since: 100, messageId: expect.any(String), properties: { n: 1 } },
      ]);
      expect((await store.listCohorts())[0]?.members).toBe(1);
    });

    it('pages through members with limit and cursor, each exactly once and in user id order', async () => {
      const store = await open();
      const userIds = Array.from({ length: 23 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
      await store.applyBatch(cohortBatch({ users: usersOf(...[...userIds].reverse()) }));
      await store.applyBatch(
        cohortBatch({ computedTime: 200, inCohort: false, users: usersOf('user-05', 'user-22') }),
      );
      const expected = userIds.filter((id) => id !== 'user-05' && id !== 'user-22');

      for (const limit of [1, 5, 7, 21, 22, 100]) {
        expect((await allMembers(store, 'c1', limit)).map((member) => member.userId)).toEqual(expected);
      }
      const firstPage = await store.listMembers('c1', { limit: 10 });
      expect(firstPage.members).toHaveLength(10);
      expect(firstPage.nextCursor).toEqual(expect.any(String));
      const exactFit = await store.listMembers('c1', { limit: expected.length });
      expect(exactFit.nextCursor).toBeNull();
    });

    it('rejects a page limit that is not a positive integer', async () => {
      const store = await open();
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await expect(store.listMembers('c1', { limit })).rejects.toThrow(RangeError);
      }
    });

    it('lists for a user only the cohorts they are in, in cohort id order', async () => {
      const store = await open();
      await store.applyBatch(
        cohortBatch({ cohortId: 'c2', cohortName: 'Two', computedTime: 110, users: usersOf('u1') }),
      );
      await store.applyBatch(
        cohortBatch({ cohortId: 'c1', cohortName: 'One', computedTime: 120, users: usersOf('u1') }),
      );
      await store.applyBatch(
        cohortBatch({ cohortId: 'c3', cohortName: 'Three', users: usersOf('u1', 'u2') }),
      );
      await store.applyBatch(
        cohortBatch({
          cohortId: 'c3',
          cohortName: 'Three',
          inCohort: false,
          computedTime: 200,
          users: usersOf('u1'),
        }),
      );
      await store.applyBatch(cohortBatch({ cohortId: 'c4', inCohort: false, users: usersOf('u1') }));

      expect(await store.userCohorts('u1')).toEqual([
        { cohortId: 'c1', cohortName: 'One', since: 120 },
        { cohortId: 'c2', cohortName: 'Two', since: 110 },
      ]);
      expect(await store.userCohorts('u2')).toEqual([{ cohortId: 'c3', cohortName: 'Three', since: 100 }]);
    });

    it('names the cohort after the newest message, whatever the arrival order', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ cohortName: 'Newest', computedTime: 300, users: [] }));
      await store.applyBatch(cohortBatch({ cohortName: 'Oldest', computedTime: 100, users: usersOf('u1') }));
      await store.applyBatch(
        cohortBatch({ cohortName: 'Tie, lower id', computedTime: 300, messageId: 'a', users: [] }),
      );

      expect(await store.listCohorts()).toEqual([
        { cohortId: 'c1', cohortName: 'Newest', members: 1, updatedAt: 300 },
      ]);
      expect(await store.userCohorts('u1')).toEqual([{ cohortId: 'c1', cohortName: 'Newest', since: 100 }]);
    });

    it('counts members through adds, removes and re-adds, and keeps a cohort that emptied', async () => {
      const store = await open();
      const count = async () =>
        (await store.listCohorts()).find((cohort) => cohort.cohortId === 'c1')?.members;
      await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1', 'u2', 'u3') }));
      expect(await count()).toBe(3);
      await store.applyBatch(cohortBatch({ computedTime: 110, users: usersOf('u1', 'u4') }));
      expect(await count()).toBe(4);
      await store.applyBatch(
        cohortBatch({ computedTime: 120, inCohort: false, users: usersOf('u1', 'u2', 'u9') }),
      );
      expect(await count()).toBe(2);
      await store.applyBatch(cohortBatch({ computedTime: 130, users: usersOf('u1') }));
      expect(await count()).toBe(3);
      await store.applyBatch(
        cohortBatch({ computedTime: 140, inCohort: false, users: usersOf('u1', 'u3', 'u4') }),
      );
      expect(await store.listCohorts()).toEqual([
        { cohortId: 'c1', cohortName: 'Cohort one', members: 0, updatedAt: 140 },
      ]);
    });

    it('removes a cohort: its members, tombstones and summary go, other cohorts stay', async () => {
      const store = await open();
      await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1', 'u2', 'u3') }));
      await store.applyBatch(cohortBatch({ computedTime: 110, inCohort: false, users: usersOf('u3') }));
      await store.applyBatch(cohortBatch({ cohortId: 'c2', cohortName: 'Kept', users: usersOf('u1') }));

      expect(await store.removeCohort('c1')).toBe(true);

      expect(await store.listCohorts()).toEqual([
        { cohortId: 'c2', cohortName: 'Kept', members: 1, updatedAt: 100 },
      ]);
      expect(await memberIds(store, 'c1')).toEqual([]);
      expect((await store.userCohorts('u1')).map((cohort) => cohort.cohortId)).toEqual(['c2']);
      expect(await store.userCohorts('u2')).toEqual([]);
      expect(await memberIds(store, 'c2')).toEqual(['u1']);
      // The tombstone went too: an add older than the removal that made it now starts the cohort afresh.
      const again = await store.applyBatch(cohortBatch({ computedTime: 90, users: usersOf('u3') }));
      expect(kindsByUser(again)).toEqual([['u3', 'entered']]);
      expect(await store.listCohorts()).toEqual([
        { cohortId: 'c1', cohortName: 'Cohort one', members: 1, updatedAt: 90 },
        { cohortId: 'c2', cohortName: 'Kept', members: 1, updatedAt: 100 },
      ]);
    });

    it('answers false when removing a cohort it does not hold, or no longer holds', async () => {
      const store = await open();
      expect(await store.removeCohort('never')).toBe(false);
      await store.applyBatch(cohortBatch({ inCohort: false, users: usersOf('u1') }));
      // A cohort of tombstones only is still held: it is listed, with 0 members.
      expect(await store.removeCohort('c1')).toBe(true);
      expect(await store.removeCohort('c1')).toBe(false);
      expect(await store.listCohorts()).toEqual([]);
    });

    it('removes a cohort larger than one removal step, and the cohorts of all its users', async () => {
      const store = await open();
      const ids = Array.from({ length: 2500 }, (_, i) => `user-${String(i).padStart(5, '0')}`);
      await store.applyBatch(cohortBatch({ users: usersOf(...ids) }));
      await store.applyBatch(cohortBatch({ cohortId: 'c2', users: usersOf(ids[0] as string) }));
      expect(await store.removeCohort('c1')).toBe(true);
      expect(await store.listCohorts()).toMatchObject([{ cohortId: 'c2', members: 1 }]);
      expect((await store.listMembers('c1', { limit: 10 })).members).toEqual([]);
      for (const userId of [ids[0], ids[1499], ids[2499]] as string[]) {
        const expected = userId === ids[0] ? ['c2'] : [];
        expect((await store.userCohorts(userId)).map((cohort) => cohort.cohortId)).toEqual(expected);
      }
    });

    it('answers check() while it is open', async () => {
      const store = await open();
      await expect(store.check()).resolves.toBeUndefined();
    });

    it('applies a batch of as many users as a payload may carry', { timeout: 120_000 }, async () => {
      const store = await open();
      const count = defaultPayloadLimits.maxUsers;
      const users = Array.from({ length: count }, (_, i) => ({
        userId: `user-${String(i).padStart(6, '0')}`,
      }));
      const changes = await store.applyBatch(cohortBatch({ users }));
      expect(changes).toHaveLength(count);
      expect(changes.at(-1)).toMatchObject({ userId: users.at(-1)?.userId, kind: 'entered' });
      expect((await store.listCohorts())[0]?.members).toBe(count);
      const lastPage = await store.listMembers('c1', {
        limit: 2,
        cursor: Buffer.from(users.at(-3)?.userId ?? '').toString('base64url'),
      });
      expect(lastPage.members.map((member) => member.userId)).toEqual(
        users.slice(-2).map((user) => user.userId),
      );
      expect(lastPage.nextCursor).toBeNull();
    });

    it('reaches the oracle’s state from any order and repetition of a set of batches', async () => {
      await fc.assert(
        fc.asyncProperty(deliveries(), async ({ batches, delivered }) => {
          const { store, cleanup } = await factory();
          try {
            const changes: MembershipChange[] = [];
            // A clone per delivery: a store must not depend on, or change, the caller's objects.
            for (const batch of delivered) changes.push(...(await store.applyBatch(structuredClone(batch))));
            const expected = expectedState(batches);

            expect(await snapshot(store, USER_IDS)).toEqual(expected);
            expectChangesToReplayToTheFinalState(changes, expected);
          } finally {
            await store.close();
            await cleanup();
          }
        }),
        { numRuns },
      );
    });

    // A durable queue delivers a batch again when its first handler did not finish; that apply may
    // have committed before the process died, before the sinks had the changes. Restating what the
    // registers hold is how those changes still reach the sinks (README "Make it yours").
    describe('restate', () => {
      const change = (
        userId: string,
        kind: 'entered' | 'left',
        version: { computedTime: number; messageId: string },
        properties?: Record<string, unknown>,
      ): MembershipChange => ({
        cohortId: 'c1',
        cohortName: 'Cohort one',
        userId,
        kind,
        ...version,
        ...(properties === undefined ? {} : { properties }),
      });
      const restated = (...args: Parameters<typeof change>): MembershipChange => ({
        ...change(...args),
        restated: true,
      });

      it('reports the state a batch left in the registers when it is applied again', async () => {
        const store = await open();
        const add = cohortBatch({
          computedTime: 100,
          messageId: 'm-add',
          users: [{ userId: 'u1', properties: { plan: 'pro' } }, { userId: 'u2' }],
        });
        await store.applyBatch(add);
        const before = await snapshot(store, ['u1', 'u2']);

        expect(await store.applyBatch(add, { restate: true })).toEqual([
          restated('u1', 'entered', { computedTime: 100, messageId: 'm-add' }, { plan: 'pro' }),
          restated('u2', 'entered', { computedTime: 100, messageId: 'm-add' }),
        ]);
        expect(await snapshot(store, ['u1', 'u2'])).toEqual(before);
        expect(await store.applyBatch(add)).toEqual([]);
      });

      it('restates a removal as left', async () => {
        const store = await open();
        await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1') }));
        const removal = cohortBatch({
          inCohort: false,
          computedTime: 200,
          messageId: 'm-out',
          users: usersOf('u1'),
        });
        await store.applyBatch(removal);

        expect(await store.applyBatch(removal, { restate: true })).toEqual([
          restated('u1', 'left', { computedTime: 200, messageId: 'm-out' }),
        ]);
        expect((await store.listCohorts())[0]?.members).toBe(0);
      });

      it('restates the newer state when a newer message holds the register, even one that changed nothing', async () => {
        const store = await open();
        const add = cohortBatch({ computedTime: 100, messageId: 'm-100', users: usersOf('u1', 'u2') });
        await store.applyBatch(add);
        // The newer add of u1 changes nothing, so it reports nothing: only a restate of the older
        // batch can still tell a sink that lost the first change that u1 is in.
        expect(
          await store.applyBatch(
            cohortBatch({ computedTime: 200, messageId: 'm-200', users: usersOf('u1') }),
          ),
        ).toEqual([]);
        await store.applyBatch(
          cohortBatch({ inCohort: false, computedTime: 300, messageId: 'm-300', users: usersOf('u2') }),
        );

        expect(await store.applyBatch(add, { restate: true })).toEqual([
          restated('u1', 'entered', { computedTime: 200, messageId: 'm-200' }),
          restated('u2', 'left', { computedTime: 300, messageId: 'm-300' }),
        ]);
      });

      it('reports the changes a batch makes as usual and restates only the users it leaves alone', async () => {
        const store = await open();
        await store.applyBatch(
          cohortBatch({ inCohort: false, computedTime: 300, messageId: 'm-300', users: usersOf('u1') }),
        );
        const changes = await store.applyBatch(
          cohortBatch({ computedTime: 150, messageId: 'm-150', users: usersOf('u1', 'u2', 'u3', 'u2') }),
          { restate: true },
        );

        expect(changes).toEqual([
          restated('u1', 'left', { computedTime: 300, messageId: 'm-300' }),
          change('u2', 'entered', { computedTime: 150, messageId: 'm-150' }),
          change('u3', 'entered', { computedTime: 150, messageId: 'm-150' }),
        ]);
        expect(changes.filter((change) => 'restated' in change).map(({ userId }) => userId)).toEqual(['u1']);
        expect(await store.listCohorts()).toEqual([
          { cohortId: 'c1', cohortName: 'Cohort one', members: 2, updatedAt: 300 },
        ]);
      });

      it('restates a removal of a user never seen, and an add that only moved the version on', async () => {
        const store = await open();
        await store.applyBatch(cohortBatch({ computedTime: 100, users: usersOf('u1') }));
        const changes = await store.applyBatch(
          cohortBatch({ computedTime: 200, messageId: 'm-200', users: usersOf('u1') }),
          { restate: true },
        );
        expect(changes).toEqual([restated('u1', 'entered', { computedTime: 200, messageId: 'm-200' })]);
        const neverSeen = await store.applyBatch(
          cohortBatch({ inCohort: false, computedTime: 200, messageId: 'm-out', users: usersOf('u9') }),
          { restate: true },
        );
        expect(neverSeen).toEqual([restated('u9', 'left', { computedTime: 200, messageId: 'm-out' })]);
        expect((await store.listCohorts())[0]?.members).toBe(1);
      });

      it('names every distinct user of a restated batch once, and the reports replay to the oracle’s state', async () => {
        await fc.assert(
          fc.asyncProperty(
            deliveries(),
            fc.infiniteStream(fc.boolean()),
            async ({ batches, delivered }, restates) => {
              const { store, cleanup } = await factory();
              try {
                const replayed = new Map<string, string | null>();
                for (const batch of delivered) {
                  const restate = restates.next().value as boolean;
                  const changes = await store.applyBatch(structuredClone(batch), { restate });
                  if (restate) {
                    expect(changes.map(({ userId }) => userId)).toEqual([...new Set(usersOfBatch(batch))]);
                  }
                  // What a sink that treats each change as "set state" ends up holding.
                  for (const { cohortId, userId, kind, properties } of changes) {
                    const state = kind === 'left' ? null : JSON.stringify(properties ?? null);
                    replayed.set(JSON.stringify([cohortId, userId]), state);
                  }
                }
                const expected = expectedState(batches);
                expect(await snapshot(store, USER_IDS)).toEqual(expected);
                const expectedMembers = new Map(
                  [...expected.members].flatMap(([cohortId, members]) =>
                    members.map(({ userId, properties }) => [
                      JSON.stringify([cohortId, userId]),
                      JSON.stringify(properties),
                    ]),
                  ),
                );
                const replayedMembers = new Map([...replayed].filter(([, state]) => state !== null));
                expect(replayedMembers).toEqual(expectedMembers);
              } finally {
                await store.close();
                await cleanup();
              }
            },
          ),
          { numRuns },
        );
      });
    });
  });
}

const usersOfBatch = (batch: CohortBatch) => batch.users.map(({ userId }) => userId);

// Ids chosen so that code point order and UTF-16 order disagree (U+FF5E vs U+1F600), and so that
// with only three distinct times many messages tie and fall back to the messageId.
const USER_IDS = ['u1', 'u2', 'U3', 'é', '\uFF5E', '\u{1F600}'];
const COHORT_IDS = ['c1', 'c2', '\uFF5Ec', '\u{1F600}c'];
const MESSAGE_ID_PREFIXES = ['m', 'M', '\uFF5E', '\u{1F600}'];

/** A set of batches with unique messageIds, and an order to deliver them in: each at least once. */
function deliveries() {
  const user = fc.record(
    {
      userId: fc.constantFrom(...USER_IDS),
      properties: fc.record({ plan: fc.constantFrom('free', 'pro'), seats: fc.integer({ min: 1, max: 2 }) }),
    },
    { requiredKeys: ['userId'] },
  );
  const batch = fc.record({
    cohortId: fc.constantFrom(...COHORT_IDS),
    cohortName: fc.constantFrom('Alpha', 'Beta'),
    inCohort: fc.boolean(),
    computedTime: fc.integer({ min: 1, max: 3 }),
    messageIdPrefix: fc.constantFrom(...MESSAGE_ID_PREFIXES),
    users: fc.array(user, { maxLength: 5 }),
  });
  return fc.array(batch, { minLength: 1, maxLength: 12 }).chain((drafts) => {
    const batches: CohortBatch[] = drafts.map(({ messageIdPrefix, ...draft }, index) => ({
      ...draft,
      messageId: `${messageIdPrefix}${index}`,
    }));
    return fc
      .array(fc.constantFrom(...batches), { maxLength: 6 })
      .chain((repeats) => {
        const all = [...batches, ...repeats];
        return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
      })
      .map((delivered) => ({ batches, delivered }));
  });
}

/** Everything a reader can observe, in the oracle's shape. */
async function snapshot(store: MembershipStore, userIds: readonly string[]): Promise<ExpectedState> {
  const cohorts = await store.listCohorts();
  const members = new Map<string, Member[]>();
  for (const { cohortId } of cohorts) members.set(cohortId, await allMembers(store, cohortId));
  const userCohorts = new Map<string, UserCohort[]>();
  for (const userId of userIds) {
    const cohortsOfUser = await store.userCohorts(userId);
    if (cohortsOfUser.length > 0) userCohorts.set(userId, cohortsOfUser);
  }
  return { cohorts, members, userCohorts };
}

/**
 * Replaying the reported changes must be possible (enter only when out, leave or update only when
 * in, update only to different properties) and must end at the expected members and properties.
 */
function expectChangesToReplayToTheFinalState(changes: MembershipChange[], expected: ExpectedState) {
  const replayed = new Map<string, string>();
  for (const { cohortId, userId, kind, properties } of changes) {
    const key = JSON.stringify([cohortId, userId]);
    const before = replayed.get(key);
    const after = JSON.stringify(properties ?? null);
    expect(before !== undefined, `${kind} for ${key}`).toBe(kind !== 'entered');
    if (kind === 'updated') expect(after, `updated ${key} to the same properties`).not.toBe(before);
    if (kind === 'left') replayed.delete(key);
    else replayed.set(key, after);
  }
  const expectedMembers = new Map(
    [...expected.members].flatMap(([cohortId, members]) =>
      members.map(
        ({ userId, properties }) => [JSON.stringify([cohortId, userId]), JSON.stringify(properties)] as const,
      ),
    ),
  );
  expect(replayed).toEqual(expectedMembers);
}
