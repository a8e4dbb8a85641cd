/**
 * @module The contract every ControlStore keeps (memory, SQLite, Redis): what waits and in which
 * order, pause and hold against admit, release and discard, the guard's windows, the lease.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { MembershipChange } from '../../src/core/store/store.ts';
import type { ControlStore, Hold } from '../../src/sink-control/control-store.ts';

export function change(
  userId: string,
  cohortId = 'c1',
  kind: MembershipChange['kind'] = 'entered',
): MembershipChange {
  return {
    cohortId,
    cohortName: `Cohort ${cohortId}`,
    userId,
    kind,
    computedTime: 1_700_000_000,
    messageId: `m-${userId}`,
    properties: { note: 'a,"b"\nc' },
  };
}

export const hold = (cohortId: string): Hold => ({
  cohortId,
  cohortName: `Cohort ${cohortId}`,
  trippedAt: 1000,
  windowOpenedAt: 900,
  membersAtOpen: 2000,
  exits: 1500,
  maxExitRatio: 0.5,
});

export const users = (changes: readonly { userId: string }[]) => changes.map((one) => one.userId);

/** Runs the contract against the stores `open` makes: a fresh, empty one for each test. */
export function controlStoreContract(name: string, open: () => Promise<ControlStore>) {
  describe(`${name} control store`, () => {
    let store: ControlStore;
    beforeEach(async () => {
      store = await open();
    });

    it('sends everything now when nothing holds the sink back', async () => {
      const sent = await store.admit('crm', [change('a'), change('b')]);
      expect(sent).toEqual([change('a'), change('b')]);
      expect(await store.backlogs(['crm'])).toEqual([{ sink: 'crm', waiting: 0, held: 0 }]);
    });

    it('keeps the changes of a paused sink in order, and only that sink’s, until they are removed', async () => {
      await store.pause('crm', { at: 1, by: 'test' });
      expect(await store.admit('crm', [change('a'), change('b')])).toEqual([]);
      expect(await store.admit('mail', [change('a')])).toEqual([change('a')]);
      expect(await store.admit('crm', [change('c')])).toEqual([]);
      const waiting = await store.waiting('crm', 10);
      expect(users(waiting.map((one) => one.change))).toEqual(['a', 'b', 'c']);
      expect(waiting[0]?.change).toEqual(change('a'));
      expect((await store.state()).paused.crm).toEqual({ at: 1, by: 'test' });

      await store.resume('crm');
      // Resumed, but changes still wait: new ones go behind them, not past them.
      expect(await store.admit('crm', [change('d')])).toEqual([]);
      const first = await store.waiting('crm', 2);
      expect(users(first.map((one) => one.change))).toEqual(['a', 'b']);
      await store.remove(
        'crm',
        first.map((one) => one.seq),
      );
      expect(users((await store.waiting('crm', 10)).map((one) => one.change))).toEqual(['c', 'd']);
      await store.remove(
        'crm',
        (await store.waiting('crm', 10)).map((one) => one.seq),
      );
      expect(await store.admit('crm', [change('e')])).toEqual([change('e')]);
    });

    it('a second pause keeps who paused first', async () => {
      await store.pause('crm', { at: 1, by: 'first' });
      await store.pause('crm', { at: 2, by: 'second' });
      expect((await store.state()).paused.crm).toEqual({ at: 1, by: 'first' });
    });

    it('a backfill holds live changes back until it ends', async () => {
      const backfill = {
        sink: 'crm',
        cohorts: ['c1'],
        cursor: null,
        sent: 0,
        total: 5,
        started: { at: 1, by: 't' },
      };
      await store.setBackfill('crm', backfill);
      expect((await store.state()).backfills.crm).toEqual(backfill);
      expect(await store.admit('crm', [change('a')])).toEqual([]);
      await store.setBackfill('crm', { ...backfill, cursor: 'x', sent: 3 });
      expect((await store.state()).backfills.crm?.cursor).toBe('x');
      await store.setBackfill('crm', null);
      expect((await store.state()).backfills).toEqual({});
      expect((await store.waiting('crm', 10)).length).toBe(1);
    });

    it('holds a cohort’s changes for every sink; release lets them go in order, discard drops them', async () => {
      await store.hold(hold('c1'));
      expect((await store.state()).holds.c1).toEqual(hold('c1'));
      expect(await store.admit('crm', [change('a', 'c1', 'left'), change('b', 'c2')])).toEqual([
        change('b', 'c2'),
      ]);
      expect(await store.admit('mail', [change('a', 'c1', 'left')])).toEqual([]);
      await store.pause('crm', { at: 1, by: 't' });
      expect(await store.admit('crm', [change('c', 'c2')])).toEqual([]);
      expect(await store.admit('crm', [change('d', 'c1', 'left')])).toEqual([]);
      expect(await store.backlogs(['crm', 'mail'])).toEqual([
        { sink: 'crm', waiting: 1, held: 2 },
        { sink: 'mail', waiting: 0, held: 1 },
      ]);

      expect(await store.release('c1')).toBe(3);
      expect((await store.state()).holds).toEqual({});
      // Released changes take their place in the order they came in.
      expect(users((await store.waiting('crm', 10)).map((one) => one.change))).toEqual(['a', 'c', 'd']);
      expect(users((await store.waiting('mail', 10)).map((one) => one.change))).toEqual(['a']);

      await store.hold(hold('c3'));
      await store.admit('crm', [change('x', 'c3', 'left')]);
      expect(await store.discard('c3')).toBe(1);
      expect(await store.backlogs(['crm'])).toEqual([{ sink: 'crm', waiting: 3, held: 0 }]);
      expect(await store.release('never-held')).toBe(0);
    });

    it('a second hold of a held cohort keeps the first numbers', async () => {
      await store.hold(hold('c1'));
      await store.hold({ ...hold('c1'), exits: 9 });
      expect((await store.state()).holds.c1?.exits).toBe(1500);
    });

    it('counts exits within a window, and opens a new one once it is older than the window', async () => {
      const windowMs = 1000;
      expect(await store.countExits('c1', { exits: 10, membersBefore: 100, now: 5000, windowMs })).toEqual({
        openedAt: 5000,
        membersAtOpen: 100,
        exits: 10,
      });
      expect(await store.countExits('c1', { exits: 5, membersBefore: 90, now: 5900, windowMs })).toEqual({
        openedAt: 5000,
        membersAtOpen: 100,
        exits: 15,
      });
      expect(await store.countExits('c2', { exits: 1, membersBefore: 7, now: 5900, windowMs })).toMatchObject(
        {
          exits: 1,
        },
      );
      expect(await store.countExits('c1', { exits: 2, membersBefore: 85, now: 6001, windowMs })).toEqual({
        openedAt: 6001,
        membersAtOpen: 85,
        exits: 2,
      });
      await store.closeWindow('c1');
      expect(await store.countExits('c1', { exits: 1, membersBefore: 80, now: 6002, windowMs })).toEqual({
        openedAt: 6002,
        membersAtOpen: 80,
        exits: 1,
      });
    });

    it('leases a sink to one owner at a time', async () => {
      expect(await store.lease('crm', 'p1', 60_000)).toBe(true);
      expect(await store.lease('crm', 'p2', 60_000)).toBe(false);
      expect(await store.lease('crm', 'p1', 60_000)).toBe(true);
      expect(await store.lease('mail', 'p2', 60_000)).toBe(true);
      expect(await store.lease('other', 'p1', 1)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.lease('other', 'p2', 60_000)).toBe(true);
    });

    it('takes a lease given back at once, and ignores a give-back by another owner', async () => {
      expect(await store.lease('crm', 'p1', 60_000)).toBe(true);
      await store.unlease('crm', 'p2');
      expect(await store.lease('crm', 'p2', 60_000)).toBe(false);
      await store.unlease('crm', 'p1');
      expect(await store.lease('crm', 'p2', 60_000)).toBe(true);
    });
  });
}
