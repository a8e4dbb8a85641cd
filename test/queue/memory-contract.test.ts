import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { describeQueueContract } from './contract.ts';

describeQueueContract('memory', async ({ maxUsers = 1_000_000, ...options }) => ({
  queue: createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers, ...options }),
  cleanup: async () => {},
}));
