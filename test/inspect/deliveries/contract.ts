/**
 * @module The DeliveryLog contract, run over every implementation: what the inspector page relies
 * on, whatever keeps the deliveries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ApplyResult,
  Delivery,
  DeliveryLog,
  DeliveryReceipt,
} from '../../../src/inspect/deliveries/delivery-log.ts';

export interface DeliveryLogSubject {
  log: DeliveryLog;
  /** Another log over the same storage (another process's view); omitted when nothing is shared. */
  peer?: () => Promise<DeliveryLog>;
  cleanup: () => Promise<void>;
}

export type DeliveryLogFactory = (options: { maxDeliveries: number }) => Promise<DeliveryLogSubject>;

let clock = 1_700_000_000_000;

/** A receipt with every field set, distinct per call. */
export function receipt(overrides: Partial<DeliveryReceipt> = {}): DeliveryReceipt {
  clock += 1000;
  return {
    messageId: `sync-1::enter::${clock}`,
    receivedAt: clock,
    ackMs: 1.5,
    outcome: 'accepted',
    status: 200,
    cohortId: 'c-1',
    cohortName: 'Power users',
    inCohort: true,
    users: 3,
    userIds: ['u-1', 'u-2', `u-${clock}`],
    computedTime: 1_700_000_000,
    receiver: 'host-1',
    ...overrides,
  };
}

export function applyResult(messageId: string, overrides: Partial<ApplyResult> = {}): ApplyResult {
  return {
    messageId,
    appliedAt: clock + 500,
    lagMs: 12,
    entered: 2,
    left: 0,
    unchanged: 1,
    sinks: [],
    worker: 'host-2',
    ...overrides,
  };
}

const messageIds = (deliveries: readonly Delivery[]) => deliveries.map((delivery) => delivery.messageId);

export function describeDeliveryLogContract(name: string, factory: DeliveryLogFactory): void {
  describe(`DeliveryLog contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    async function open(maxDeliveries = 100) {
      const subject = await factory({ maxDeliveries });
      const peers: DeliveryLog[] = [];
      cleanups.push(async () => {
        for (const peer of peers) await peer.close();
        await subject.log.close();
        await subject.cleanup();
      });
      const peer = async () => {
        if (!subject.peer) return subject.log;
        const log = await subject.peer();
        peers.push(log);
        return log;
      };
      return { log: subject.log, peer };
    }

    async function record(log: DeliveryLog, ...receipts: DeliveryReceipt[]) {
      for (const one of receipts) log.recordReceipt(one);
      await log.flush();
      return receipts;
    }

    it('lists deliveries newest first, with every field as recorded', async () => {
      const { log } = await open();
      const [first, second] = await record(log, receipt(), receipt({ outcome: 'rejected', status: 422 }));
      const { deliveries, nextCursor } = await log.list({ limit: 10 });
      expect(messageIds(deliveries)).toEqual([second?.messageId, first?.messageId]);
      expect(deliveries[0]).toMatchObject({ ...second, duplicates: 0 });
      expect(deliveries[0]?.applied).toBeUndefined();
      expect(nextCursor).toBeNull();
    });

    it('pages with a cursor, without gaps or repeats, while new deliveries arrive', async () => {
      const { log } = await open();
      const older = await record(log, ...Array.from({ length: 25 }, () => receipt()));
      const seen: Delivery[] = [];
      let cursor: string | null | undefined;
      let pages = 0;
      do {
        const page = await log.list({ limit: 10, ...(cursor ? { before: cursor } : {}) });
        seen.push(...page.deliveries);
        cursor = page.nextCursor;
        pages += 1;
        await record(log, receipt(), receipt());
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(messageIds(seen)).toEqual(messageIds(older as Delivery[]).reverse());
    });

    it('gives no next cursor when the last page is exactly full', async () => {
      const { log } = await open();
      await record(log, receipt(), receipt());
      const page = await log.list({ limit: 2 });
      expect(page.deliveries).toHaveLength(2);
      expect(page.nextCursor).toBeNull();
    });

    it('filters by outcome, cohort, direction and time range, and pages within a filter', async () => {
      const { log } = await open();
      const accepted = receipt({ cohortId: 'c-1', inCohort: true });
      const left = receipt({ cohortId: 'c-2', inCohort: false });
      const rejected = receipt({
        outcome: 'rejected',
        status: 422,
        reason: 'invalid_payload',
        cohortId: 'c-2',
      });
      const unavailable = receipt({ outcome: 'unavailable', status: 503, reason: 'queue_full' });
      const later = receipt({ cohortId: 'c-2', inCohort: true });
      await record(log, accepted, left, rejected, unavailable, later);
      const ids = async (query: Omit<Parameters<DeliveryLog['list']>[0], 'limit'>) =>
        messageIds((await log.list({ limit: 10, ...query })).deliveries);

      expect(await ids({ outcome: 'rejected' })).toEqual([rejected.messageId]);
      expect(await ids({ outcome: 'unavailable' })).toEqual([unavailable.messageId]);
      expect(await ids({ cohortId: 'c-2' })).toEqual([later.messageId, rejected.messageId, left.messageId]);
      expect(await ids({ inCohort: false })).toEqual([left.messageId]);
      expect(await ids({ cohortId: 'c-2', inCohort: true })).toEqual([later.messageId, rejected.messageId]);
      expect(await ids({ from: left.receivedAt, to: unavailable.receivedAt })).toEqual([
        rejected.messageId,
        left.messageId,
      ]);
      const first = await log.list({ limit: 1, cohortId: 'c-2' });
      const second = await log.list({ limit: 1, cohortId: 'c-2', before: first.nextCursor as string });
      expect(messageIds(second.deliveries)).toEqual([rejected.messageId]);
    });

    it('finds a delivery by its exact message_id only', async () => {
      const { log } = await open();
      const [one] = await record(
        log,
        receipt({ messageId: 'run::enter::1' }),
        receipt({ messageId: 'run::enter::10' }),
      );
      expect((await log.get('run::enter::1'))?.messageId).toBe(one?.messageId);
      expect(await log.get('run::enter::')).toBeUndefined();
      expect(await log.get('run::enter::%')).toBeUndefined();
      expect(await log.get('missing')).toBeUndefined();
    });

    it('gives a duplicate its own row and counts it on the row that accepted the message_id', async () => {
      const { log } = await open();
      const original = receipt({ messageId: 'm-dup' });
      await record(
        log,
        receipt({ messageId: 'm-dup', outcome: 'unavailable', status: 503, reason: 'queue_full' }),
      );
      await record(log, original);
      await record(log, receipt({ messageId: 'm-dup', outcome: 'duplicate' }));
      await record(log, receipt({ messageId: 'm-dup', outcome: 'duplicate' }));
      const found = await log.get('m-dup');
      expect(found).toMatchObject({ outcome: 'accepted', receivedAt: original.receivedAt, duplicates: 2 });
      const duplicates = await log.list({ limit: 10, outcome: 'duplicate' });
      expect(duplicates.deliveries.map((row) => [row.messageId, row.duplicates])).toEqual([
        ['m-dup', 0],
        ['m-dup', 0],
      ]);
      const accepted = await log.list({ limit: 10, outcome: 'accepted' });
      expect(accepted.deliveries[0]?.duplicates).toBe(2);
    });

    it('finds the newest row of a message_id that was never accepted', async () => {
      const { log } = await open();
      await record(
        log,
        receipt({ messageId: 'm-bad', outcome: 'rejected', status: 422, quarantineId: 'q-1' }),
      );
      await record(
        log,
        receipt({ messageId: 'm-bad', outcome: 'rejected', status: 422, quarantineId: 'q-2' }),
      );
      expect((await log.get('m-bad'))?.quarantineId).toBe('q-2');
    });

    it('attaches the apply result to its receipt', async () => {
      const { log } = await open();
      const [accepted] = await record(log, receipt({ messageId: 'm-apply' }));
      const result = applyResult('m-apply', { entered: 5, left: 1, unchanged: 4, lagMs: 40 });
      log.recordApplied(result);
      await log.flush();
      expect((await log.get('m-apply'))?.applied).toEqual(result);
      const [listed] = (await log.list({ limit: 1 })).deliveries;
      expect(listed).toMatchObject({ ...accepted, applied: result });
    });

    it('attaches an apply result that was recorded before its receipt (another process)', async () => {
      const { log, peer } = await open();
      const worker = await peer();
      const result = applyResult('m-early', { entered: 3 });
      worker.recordApplied(result);
      worker.recordSinkResult('m-early', { name: 'log', delivered: 3, failed: 0 });
      await worker.flush();
      await record(log, receipt({ messageId: 'm-early' }));
      expect((await log.get('m-early'))?.applied).toEqual({
        ...result,
        sinks: [{ name: 'log', delivered: 3, failed: 0 }],
      });
      expect((await log.list({ limit: 1 })).deliveries[0]?.applied?.entered).toBe(3);
    });

    it('keeps each sink result by name, a later one replacing the earlier', async () => {
      const { log } = await open();
      await record(log, receipt({ messageId: 'm-sinks' }));
      log.recordApplied(applyResult('m-sinks'));
      log.recordSinkResult('m-sinks', { name: 'http', delivered: 0, failed: 2, error: 'HTTP 503' });
      log.recordSinkResult('m-sinks', { name: 'log', delivered: 2, failed: 0 });
      log.recordSinkResult('m-sinks', { name: 'http', delivered: 2, failed: 0 });
      await log.flush();
      const sinks = (await log.get('m-sinks'))?.applied?.sinks ?? [];
      expect([...sinks].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: 'http', delivered: 2, failed: 0 },
        { name: 'log', delivered: 2, failed: 0 },
      ]);
    });

    it('keeps only the newest maxDeliveries and reports what it keeps', async () => {
      const { log } = await open(5);
      expect(await log.retention()).toEqual({ kept: 0, max: 5, oldestAt: null });
      const all = await record(
        log,
        ...Array.from({ length: 8 }, (_, index) => receipt({ messageId: `m-${index}` })),
      );
      log.recordApplied(applyResult('m-0'));
      await log.flush();
      expect(await log.retention()).toEqual({ kept: 5, max: 5, oldestAt: all[3]?.receivedAt });
      const { deliveries, nextCursor } = await log.list({ limit: 10 });
      expect(messageIds(deliveries)).toEqual(['m-7', 'm-6', 'm-5', 'm-4', 'm-3']);
      expect(nextCursor).toBeNull();
      expect(await log.get('m-0')).toBeUndefined();
      expect(await log.get('m-3')).toBeDefined();
    });

    it('tails: what came after an id, oldest first, without skipping any', async () => {
      const { log } = await open();
      const first = await record(log, receipt(), receipt(), receipt());
      const newest = await log.since(undefined, 2);
      expect(messageIds(newest)).toEqual([first[1]?.messageId, first[2]?.messageId]);
      expect(await log.since(newest.at(-1)?.id, 10)).toEqual([]);
      const more = await record(log, receipt(), receipt(), receipt());
      const next = await log.since(newest.at(-1)?.id, 2);
      expect(messageIds(next)).toEqual([more[0]?.messageId, more[1]?.messageId]);
      const rest = await log.since(next.at(-1)?.id, 10);
      expect(messageIds(rest)).toEqual([more[2]?.messageId]);
    });

    it("reports each cohort's latest sync: last batch, computed_time, entered and left", async () => {
      const { log } = await open();
      const old = receipt({ messageId: 'old', cohortId: 'c-9', computedTime: 100 });
      const enter = receipt({ messageId: 'enter', cohortId: 'c-9', computedTime: 200, inCohort: true });
      const leave = receipt({ messageId: 'leave', cohortId: 'c-9', computedTime: 200, inCohort: false });
      const other = receipt({ messageId: 'other', cohortId: 'c-8', computedTime: 50 });
      await record(
        log,
        old,
        enter,
        leave,
        other,
        receipt({ outcome: 'rejected', status: 422, cohortId: 'c-7' }),
      );
      log.recordApplied(applyResult('old', { entered: 100, left: 0 }));
      log.recordApplied(applyResult('enter', { entered: 4, left: 0 }));
      log.recordApplied(applyResult('leave', { entered: 0, left: 3 }));
      await log.flush();
      const activity = await log.cohortActivity();
      expect(Object.fromEntries(activity)).toEqual({
        'c-9': { lastBatchAt: leave.receivedAt, lastComputedTime: 200, entered: 4, left: 3 },
        'c-8': { lastBatchAt: other.receivedAt, lastComputedTime: 50, entered: 0, left: 0 },
      });
    });

    it('stores hostile strings verbatim', async () => {
      const { log } = await open();
      const hostile = `<script>alert("x")</script> ' " \u2028 \u2029 \u0000 é 🎉`;
      const original = receipt({
        messageId: `${hostile}::1`,
        cohortId: `c-${hostile}`,
        cohortName: hostile,
        reason: hostile,
        receiver: hostile,
        userIds: [hostile, `${hostile}-2`],
      });
      await record(log, original);
      log.recordApplied(applyResult(`${hostile}::1`, { worker: hostile }));
      log.recordSinkResult(`${hostile}::1`, { name: hostile, delivered: 0, failed: 1, error: hostile });
      await log.flush();
      const found = await log.get(`${hostile}::1`);
      expect(found).toMatchObject(original);
      expect(found?.applied?.worker).toBe(hostile);
      expect(found?.applied?.sinks).toEqual([{ name: hostile, delivered: 0, failed: 1, error: hostile }]);
      expect(messageIds((await log.list({ limit: 5, cohortId: `c-${hostile}` })).deliveries)).toEqual([
        original.messageId,
      ]);
      expect([...(await log.cohortActivity()).keys()]).toEqual([`c-${hostile}`]);
    });

    it('records a receipt without a message_id or batch fields', async () => {
      const { log } = await open();
      const bare: DeliveryReceipt = {
        messageId: null,
        receivedAt: Date.now(),
        ackMs: 0.4,
        outcome: 'rejected',
        status: 400,
        reason: 'invalid_json',
        receiver: 'host-1',
      };
      await record(log, bare);
      const [listed] = (await log.list({ limit: 1 })).deliveries;
      expect(listed).toEqual({ ...bare, id: listed?.id, duplicates: 0 });
    });

    it("keeps a batch's user ids in order, on the accepting row and on a peer's view", async () => {
      const { log, peer } = await open();
      const userIds = Array.from({ length: 50 }, (_, i) => `user-${50 - i}`);
      await record(log, receipt({ messageId: 'm-users', userIds }));
      expect((await log.get('m-users'))?.userIds).toEqual(userIds);
      expect((await (await peer()).get('m-users'))?.userIds).toEqual(userIds);
      const found = (await log.get('m-users')) as Delivery;
      found.userIds?.push('intruder');
      expect((await log.get('m-users'))?.userIds).toHaveLength(50);
    });

    it('returns copies: changing one does not change the log', async () => {
      const { log } = await open();
      await record(log, receipt({ messageId: 'm-copy' }));
      const found = (await log.get('m-copy')) as Delivery;
      found.duplicates = 99;
      expect((await log.get('m-copy'))?.duplicates).toBe(0);
    });

    it('never throws from recording, even after close', async () => {
      const { log } = await open();
      await log.close();
      expect(() => log.recordReceipt(receipt())).not.toThrow();
      expect(() => log.recordApplied(applyResult('x'))).not.toThrow();
      expect(() => log.recordSinkResult('x', { name: 'log', delivered: 1, failed: 0 })).not.toThrow();
    });
  });
}
