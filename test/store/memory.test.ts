import { createMemoryStore } from '../../src/store/memory.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
