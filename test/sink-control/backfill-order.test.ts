/**
 * The race a backfill must win: a page is read from the store, then a live change to one of its
 * users is applied and dispatched before the page is sent. The live change must still reach the
 * sink after the page's stale entry. Made deterministic by applying the removal inside the page
 * read, with the real dispatcher, gate, runner, memory store and control store.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import { everything } from '../../src/core/sinks/route.ts';
import type { Sink } from '../../src/core/sinks/sink.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import type { MembershipChange, MembershipStore } from '../../src/core/store/store.ts';
import { createControlGate } from '../../src/sink-control/gate.ts';
import { createMemoryControl } from '../../src/sink-control/memory-control.ts';
import { startRunner } from '../../src/sink-control/runner.ts';

const logger = pino({ level: 'silent' });
const users = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ userId: `u-${(i * 7919) % 1000}-${i}` }));

describe('a backfill and a live change to the same user', () => {
  for (const gated of [true, false]) {
    it(`${gated ? 'with' : 'without (the check that the race is real)'} the gate, the sink ends on the live change`, async () => {
      const store = createMemoryStore();
      const members = users(30);
      await store.applyBatch({
        cohortId: 'c',
        cohortName: 'C',
        inCohort: true,
        computedTime: 10,
        messageId: 'add',
        users: members,
      });
      const received: MembershipChange[] = [];
      const sink: Sink = { name: 'crm', send: async (changes) => void received.push(...changes) };
      const dispatcher = createSinkDispatcher({
        sinks: [sink],
        deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
        logger,
      });
      const control = createMemoryControl();
      if (gated)
        dispatcher.useGate(
          createControlGate(
            control,
            async () => {},
            () => {},
          ),
        );

      // The first page read lets a removal of its last user through before the page is sent.
      const leaving = [...members].map((user) => user.userId).sort()[9] as string;
      let raced = false;
      const racing: Pick<MembershipStore, 'listMembers' | 'listCohorts'> = {
        listCohorts: () => store.listCohorts(),
        async listMembers(cohortId, request) {
          const page = await store.listMembers(cohortId, request);
          if (!raced) {
            raced = true;
            const changes = await store.applyBatch({
              cohortId: 'c',
              cohortName: 'C',
              inCohort: false,
              computedTime: 20,
              messageId: 'remove',
              users: [{ userId: leaving }],
            });
            await dispatcher.dispatch(changes, 'remove');
          }
          return page;
        },
      };
      await control.setBackfill('crm', {
        sink: 'crm',
        cohorts: ['c'],
        cursor: null,
        sent: 0,
        total: 30,
        started: { at: 0, by: 'test' },
      });
      const runner = startRunner({
        control,
        dispatcher,
        store: racing,
        routes: new Map([['crm', everything]]),
        logger,
        pageSize: 10,
        idleMs: 5,
      });
      const deadline = Date.now() + 10_000;
      while (
        (await control.state()).backfills.crm !== undefined ||
        (await control.backlogs(['crm']))[0]?.waiting
      ) {
        if (Date.now() > deadline) throw new Error('the backfill did not end');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await runner.close();
      await dispatcher.close();

      const last = received.filter((change) => change.userId === leaving).at(-1);
      if (gated) expect(last).toMatchObject({ kind: 'left', messageId: 'remove' });
      else expect(last).toMatchObject({ kind: 'entered', restated: true });
      expect(new Set(received.map((change) => change.userId)).size).toBe(30);
    });
  }
});
