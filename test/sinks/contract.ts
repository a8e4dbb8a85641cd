/**
 * The Sink contract: every sink (log, http, the example, yours) runs this suite through
 * `describeSinkContract(name, factory)`. The factory says how to read back what reached the
 * downstream, mapped to (key, userId, inCohort): the idempotency key and the state to set.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import { changeKey, type Sink } from '../../src/core/sinks/sink.ts';
import type { MembershipChange } from '../../src/core/store/store.ts';
import { changesFor, membershipChange } from './changes.ts';

/** One change as the downstream holds it. */
export interface ObservedChange {
  key: string;
  userId: string;
  inCohort: boolean;
}

export interface SinkUnderTest {
  sink: Sink;
  /** What reached the downstream so far, in arrival order. */
  observed: () => ObservedChange[];
  cleanup: () => Promise<void>;
}

export type SinkFactory = () => Promise<SinkUnderTest>;

const expectedOf = (change: MembershipChange): ObservedChange => ({
  key: changeKey(change),
  userId: change.userId,
  inCohort: change.kind !== 'left',
});
const byKey = (a: ObservedChange, b: ObservedChange) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function describeSinkContract(name: string, factory: SinkFactory) {
  describe(`Sink contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const open = async () => {
      const made = await factory();
      cleanups.push(async () => {
        await made.sink.close?.();
        await made.cleanup();
      });
      return made;
    };
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('names itself, and declares batchSize and concurrency as positive integers when it does', async () => {
      const { sink } = await open();
      expect(sink.name).toMatch(/^[a-z][a-z0-9-]*$/);
      for (const value of [sink.batchSize, sink.concurrency]) {
        if (value !== undefined) expect(Number.isInteger(value) && value > 0).toBe(true);
      }
    });

    it('has every change downstream, with its idempotency key and state, once send resolves', async () => {
      const { sink, observed } = await open();
      const changes = [
        membershipChange({ userId: 'u1', kind: 'entered' }),
        membershipChange({ userId: 'u2', kind: 'left', properties: undefined }),
        membershipChange({ userId: 'u3', kind: 'updated', properties: { plan: 'team', seats: 3 } }),
        membershipChange({
          userId: 'u4',
          kind: 'entered',
          computedTime: 300,
          messageId: 'm-300',
          restated: true,
        }),
        membershipChange({ userId: 'u5', cohortId: 'c2', cohortName: 'Другая "когорта"', kind: 'left' }),
      ];
      await sink.send(changes);
      expect([...observed()].sort(byKey)).toEqual(changes.map(expectedOf).sort(byKey));
    });

    it('takes the same changes again without failing: delivery is at least once', async () => {
      const { sink, observed } = await open();
      const changes = changesFor(['u1', 'u2']);
      await sink.send(changes);
      await sink.send(changes);
      expect(new Set(observed().map((change) => change.key))).toEqual(new Set(changes.map(changeKey)));
    });

    it('takes a full batch in one call', async () => {
      const { sink, observed } = await open();
      const size = Math.min(sink.batchSize ?? 500, 500);
      const changes = changesFor(Array.from({ length: size }, (_, index) => `user-${index}`));
      await sink.send(changes);
      expect(observed()).toHaveLength(size);
    });

    it('receives each user’s changes in the register’s order through the dispatcher, at its concurrency', async () => {
      const { sink, observed } = await open();
      const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
      const dispatcher = createSinkDispatcher({
        sinks: [sink],
        deadLetters,
        logger: pino({ level: 'silent' }),
      });
      const userIds = Array.from({ length: 12 }, (_, index) => `user-${index}`);
      const versions = [100, 200, 300, 400, 500];
      // Every version handed over at once, the way overlapping batches would be.
      await Promise.all(
        versions.map((computedTime, round) =>
          dispatcher.dispatch(
            changesFor(userIds, {
              computedTime,
              messageId: `m-${computedTime}`,
              kind: round % 2 === 0 ? 'entered' : 'left',
            }),
          ),
        ),
      );
      const keysInOrder = (userId: string) =>
        versions.map((computedTime) => changeKey({ cohortId: 'c1', userId, messageId: `m-${computedTime}` }));
      for (const userId of userIds) {
        const arrived = observed().filter((change) => change.userId === userId);
        expect(arrived.map((change) => change.key)).toEqual(keysInOrder(userId));
        expect(arrived.at(-1)?.inCohort).toBe(true);
      }
      expect(await deadLetters.list()).toEqual([]);
    });
  });
}
