import { createMemoryStore } from '../../src/core/store/memory.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
