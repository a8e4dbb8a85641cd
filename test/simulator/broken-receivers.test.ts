import { afterEach, describe, expect, it } from 'vitest';
import { causes } from '../../simulator/diagnose.ts';
import { causeCounts, formatReport } from '../../simulator/report.ts';
import { exitCodeFor, runSimulation } from '../../simulator/simulate.ts';
import { type RunningBrokenReceiver, startBrokenReceiver } from './broken-receivers.ts';
import { testOptions } from './harness.ts';

let receiver: RunningBrokenReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

// Each broken receiver is driven one request at a time: what it gets wrong then depends on the
// seeded schedule only, not on which of several connections won a race.
describe('the simulator catches a broken receiver', () => {
  it('that applies messages in arrival order: differences put down to arrival order, exit 1', async () => {
    receiver = await startBrokenReceiver('arrival-order');
    // Reordering only: this receiver dedupes, so duplicates alone would not hurt it. One request at
    // a time, so arrival order is the seeded schedule rather than a race between connections.
    const options = testOptions(`${receiver.url}/webhook`, {
      concurrency: 1,
      duplicateRate: 0,
      reorderWindow: 12,
      churn: 0.4,
    });
    const result = await runSimulation(options);
    const report = formatReport(result);

    expect(exitCodeFor(result)).toBe(1);
    expect(result.differences.length, report).toBeGreaterThan(0);
    expect(causeCounts(result.differences)[0]?.[0], report).toBe('arrival-order');
    expect(report).toContain(causes['arrival-order']);
    expect(report).toMatch(/^FAIL: \d+ differences\.$/m);
  });

  it('that re-applies duplicates: differences put down to repeated message_ids, exit 1', async () => {
    receiver = await startBrokenReceiver('reapplies-duplicates');
    // Duplicates only: this receiver is right under any reordering.
    const options = testOptions(`${receiver.url}/webhook`, {
      concurrency: 1,
      duplicateRate: 0.5,
      reorderWindow: 0,
    });
    const result = await runSimulation(options);
    const report = formatReport(result);

    expect(exitCodeFor(result)).toBe(1);
    expect(result.differences.length, report).toBeGreaterThan(0);
    expect(causeCounts(result.differences)[0]?.[0], report).toBe('reapplied-duplicate');
    expect(report).toContain(causes['reapplied-duplicate']);
  });

  it('that re-applies duplicates is right without them: the simulator does not cry wolf', async () => {
    receiver = await startBrokenReceiver('reapplies-duplicates');
    const options = testOptions(`${receiver.url}/webhook`, { duplicateRate: 0, reorderWindow: 12 });
    const result = await runSimulation(options);
    expect(result.differences, formatReport(result)).toEqual([]);
  });

  it('that drops batches it answered 200 to: the lost messages are listed, exit 1', async () => {
    receiver = await startBrokenReceiver('drops-batches');
    const options = testOptions(`${receiver.url}/webhook`, {
      concurrency: 1,
      duplicateRate: 0,
      reorderWindow: 0,
    });
    const result = await runSimulation(options);
    const report = formatReport(result);

    expect(exitCodeFor(result)).toBe(1);
    expect(result.delivery.givenUp).toBe(0);
    expect(causeCounts(result.differences)[0]?.[0], report).toBe('dropped');
    expect(result.lostMessages.length, report).toBeGreaterThan(0);
    expect(report).toContain('Acknowledged messages with no visible effect');
    expect(report).toContain(causes.dropped);
  });

  it('that drops batches, even amid duplicates and reordering', async () => {
    receiver = await startBrokenReceiver('drops-batches');
    // Duplicates and reordering come from the seeded schedule; one request at a time keeps which
    // arrival is dropped the same from run to run.
    const result = await runSimulation(testOptions(`${receiver.url}/webhook`, { concurrency: 1 }));
    expect(exitCodeFor(result)).toBe(1);
    expect(result.lostMessages.length, formatReport(result)).toBeGreaterThan(0);
  });
});
