import { afterEach, describe, expect, it } from 'vitest';
import { formatReport } from '../../simulator/report.ts';
import { exitCodeFor, runSimulation } from '../../simulator/simulate.ts';
import { availableQueueModes, type ReceiverUnderTest, startOurReceiver, testOptions } from './harness.ts';
import { type RunningSlowProxy, startSlowProxy } from './slow-proxy.ts';

const queueModes = await availableQueueModes();
let receiver: ReceiverUnderTest | undefined;
let proxy: RunningSlowProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await receiver?.close();
  proxy = undefined;
  receiver = undefined;
});

/** Our receiver behind a proxy that holds every fifth webhook POST past the simulator's timeout. */
async function slowReceiver(env: Record<string, string>) {
  receiver = await startOurReceiver(env);
  proxy = await startSlowProxy({ target: receiver.url, delayMs: 700, isSlow: (index) => index % 5 === 2 });
  return proxy;
}

describe.each(queueModes)('the simulator against our receiver (QUEUE=%s)', (queue) => {
  it('finds zero differences with duplicates, reordering and timeouts forcing retries', async () => {
    const slow = await slowReceiver({ QUEUE: queue, STORE: 'sqlite' });
    const result = await runSimulation(testOptions(`${slow.url}/webhook`));

    expect(result.differences, formatReport(result)).toEqual([]);
    expect(result.verdict).toBe('pass');
    expect(exitCodeFor(result)).toBe(0);
    // The run really exercised what it claims: copies sent, timeouts hit, retries answered "duplicate".
    expect(slow.delayed()).toBeGreaterThan(0);
    expect(result.delivery.outcomes.timeout).toBeGreaterThan(0);
    expect(result.delivery.retries).toBeGreaterThan(0);
    expect(result.delivery.duplicatesSent).toBeGreaterThan(0);
    expect(result.delivery.answers.duplicate).toBeGreaterThan(result.delivery.duplicatesSent - 1);
    expect(result.delivery.unacknowledgedMessages).toEqual([]);
  });
});

describe('the simulator against our receiver, in each shape', () => {
  it('finds zero differences for user-ids-only bodies (properties expected null)', async () => {
    receiver = await startOurReceiver({ STORE: 'memory' });
    const result = await runSimulation(testOptions(`${receiver.url}/webhook`, { shape: 'user-ids-only' }));
    expect(result.differences, formatReport(result)).toEqual([]);
    expect(result.verdict).toBe('pass');
  });

  it('finds zero differences for per-user-flags bodies delivered step by step, with timeouts', async () => {
    const slow = await slowReceiver({ STORE: 'memory' });
    const options = testOptions(`${slow.url}/webhook`, {
      shape: 'per-user-flags',
      steps: 2,
      stepGapMs: 1100,
    });
    const result = await runSimulation(options);
    expect(result.differences, formatReport(result)).toEqual([]);
    expect(result.verdict).toBe('pass');
    expect(result.delivery.retries).toBeGreaterThan(0);
  });

  it('reports the per-user-flags re-entry our receiver drops as a "duplicate": the shape has no message_id', async () => {
    receiver = await startOurReceiver({ STORE: 'memory' });
    // One user who flips at every step: add, remove, then an add byte-identical to the first.
    const options = testOptions(`${receiver.url}/webhook`, {
      shape: 'per-user-flags',
      cohorts: 1,
      users: 1,
      steps: 2,
      churn: 1,
      duplicateRate: 0,
      seed: 1,
      stepGapMs: 1100,
    });
    const result = await runSimulation(options);
    expect(result.warnings.join('\n')).toMatch(/byte-identical to an earlier, different message/);
    expect(result.differences).toMatchObject([{ kind: 'missing', cause: 'taken-for-duplicate' }]);
    expect(exitCodeFor(result)).toBe(1);
  });

  it('puts per-user-flags differences down to the shape when steps are not a second apart', async () => {
    receiver = await startOurReceiver({ STORE: 'memory' });
    const options = testOptions(`${receiver.url}/webhook`, {
      shape: 'per-user-flags',
      cohorts: 1,
      users: 200,
      churn: 0.5,
      duplicateRate: 0,
      stepGapMs: 0,
    });
    const result = await runSimulation(options);
    expect(result.warnings.join('\n')).toMatch(/--step-gap-ms 0 is under a second/);
    // Same-second messages are ordered by their hash: about half of the conflicting pairs go wrong.
    expect(result.differences.length).toBeGreaterThan(0);
    expect(new Set(result.differences.map((difference) => difference.cause))).toEqual(
      new Set(['unordered-shape']),
    );
  });
});
