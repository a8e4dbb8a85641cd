import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { describeQueueContract } from './contract.ts';

describeQueueContract('memory', async ({ roomForOne, ...options }) => ({
  // A test batch has 2 users.
  queue: createMemoryQueue({ dedupeTtlSeconds: 3600, maxUsers: roomForOne ? 3 : 1_000_000, ...options }),
  cleanup: async () => {},
}));
