import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createQueuedBodyDecoder } from '../../src/core/payload/decode-body.ts';
import { createLogSink } from '../../src/core/sinks/log.ts';
import { changeKey } from '../../src/core/sinks/sink.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { createWorker, storeApplier } from '../../src/core/worker.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { membershipChange, queuedBatch } from './changes.ts';
import { describeSinkContract } from './contract.ts';

function loggedSink() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { sink: createLogSink(logger), lines };
}

describeSinkContract('log', async () => {
  const { sink, lines } = loggedSink();
  return {
    sink,
    observed: () =>
      lines.map((line) => ({
        key: changeKey({
          cohortId: line.cohort_id as string,
          userId: line.user_id as string,
          messageId: line.message_id as string,
        }),
        userId: line.user_id as string,
        inCohort: line.kind !== 'left',
      })),
    cleanup: async () => {},
  };
});

describe('log sink', () => {
  it('writes one info line per change, with its version, and leaves user properties out', async () => {
    const { sink, lines } = loggedSink();
    const change = membershipChange({ properties: { email: 'someone@example.com' } });
    await sink.send([change, membershipChange({ userId: 'u2', kind: 'left', restated: true })]);

    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'membership change',
      sink: 'log',
      cohort_id: 'c1',
      user_id: 'u1',
      kind: 'entered',
      computed_time: 100,
      message_id: 'm-100',
    });
    expect(JSON.stringify(lines[0])).not.toContain('someone@example.com');
    expect(lines[0]).not.toHaveProperty('restated');
    expect(lines[1]).toMatchObject({ user_id: 'u2', kind: 'left', restated: true });
  });
});

describe('log volume follows batches', () => {
  const applyTwice = async (level: 'info' | 'debug') => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const decode = createQueuedBodyDecoder();
    const handle = createWorker({
      apply: storeApplier(createMemoryStore(), decode),
      decode,
      deadLetters: createMemoryDeadLetters({ maxPerKind: 10 }),
      events: createReceiverEvents(),
      logger,
      now: () => 5_000,
    });
    await handle(queuedBatch(cohortBatch({ users: usersOf('u1') })), { attempt: 1, acceptedAt: 4_000 });
    lines.length = 0;
    const batch = cohortBatch({ computedTime: 200, users: usersOf('u1', 'u2', 'u3') });
    await handle(queuedBatch(batch), { attempt: 1, acceptedAt: 4_750 });
    return { lines, batch };
  };

  it('defaults to no sinks', () => {
    expect(loadConfig({}).SINKS).toEqual([]);
    expect(loadConfig({ SINKS: 'log' }).SINKS.map((sink) => sink.name)).toEqual(['log']);
  });

  it('logs one info line per applied batch, with its counts and lag, and no line per change', async () => {
    const { lines, batch } = await applyTwice('info');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'batch applied',
        message_id: batch.messageId,
        cohort_id: 'c1',
        direction: 'in',
        users: 3,
        entered: 2,
        left: 0,
        updated: 0,
        unchanged: 1,
        lag_ms: 250,
      }),
    ]);
  });

  it('adds one debug line per change at LOG_LEVEL=debug', async () => {
    const { lines } = await applyTwice('debug');
    const changeLines = lines.filter((line) => line.msg === 'membership change');
    expect(changeLines.map((line) => [line.level, line.user_id, line.kind])).toEqual([
      [20, 'u2', 'entered'],
      [20, 'u3', 'entered'],
    ]);
    expect(lines.filter((line) => line.msg === 'batch applied')).toHaveLength(1);
  });
});
