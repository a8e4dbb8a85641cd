import { createMemoryQueue } from '../../src/queue/memory.ts';
import { describeQueueContract } from './contract.ts';

describeQueueContract('memory', async ({ maxUsers = 1_000_000, redeliveryDelayMs }) => ({
  queue: createMemoryQueue({
    dedupeTtlSeconds: 3600,
    maxUsers,
    ...(redeliveryDelayMs === undefined ? {} : { redeliveryDelayMs }),
  }),
  cleanup: async () => {},
}));
