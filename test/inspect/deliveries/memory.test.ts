import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryDeliveryLog } from '../../../src/inspect/deliveries/memory.ts';
import { describeDeliveryLogContract, receipt } from './contract.ts';

describeDeliveryLogContract('memory', async ({ maxDeliveries }) => ({
  log: createMemoryDeliveryLog({ maxDeliveries }),
  cleanup: async () => {},
}));

describe('memory DeliveryLog', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a bound that is not a positive integer, naming it', () => {
    expect(() => createMemoryDeliveryLog({ maxDeliveries: 0 })).toThrow(
      'Expected `maxDeliveries` to be a positive integer, got `0`',
    );
  });

  it('issues ids above those of an earlier process, so a browser tail resumes after a restart', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const before = createMemoryDeliveryLog();
    for (let index = 0; index < 999; index += 1) before.recordReceipt(receipt());
    vi.setSystemTime(1_700_000_000_001);
    const [last] = await before.since(undefined, 1);
    const restarted = createMemoryDeliveryLog();
    restarted.recordReceipt(receipt());
    expect(await restarted.since(last?.id, 10)).toHaveLength(1);
  });
});
