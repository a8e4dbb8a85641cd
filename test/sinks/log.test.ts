import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogSink } from '../../src/sinks/log.ts';
import { changeKey } from '../../src/sinks/sink.ts';
import { membershipChange } from './changes.ts';
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
    await sink.deliver([change, membershipChange({ userId: 'u2', kind: 'left', restated: true })]);

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
