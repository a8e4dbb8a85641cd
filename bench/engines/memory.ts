/**
 * @module The reference engine: `decideBatch` over an in-memory Map, one batch at a time, as
 * src/core/store/memory.ts does. What every other engine's registers and counts are checked
 * against (cli.ts --verify), and the ceiling of what an engine's own work can cost.
 */
import { decideBatch, type Register } from '../../src/core/store/register.ts';
import type { EngineOptions, RegisterEngine } from './engine.ts';
import { registerKey } from './kv.ts';

export function createMemoryEngine(options: EngineOptions): RegisterEngine {
  void options;
  const registers = new Map<string, Register>();
  const counts = new Map<string, number>();
  return {
    name: 'memory (reference: decideBatch over a Map, batch by batch)',
    persistent: false,
    async open() {},
    async applyGroup(batches) {
      for (const batch of batches) {
        const { cohortId } = batch;
        const { writes, memberDelta } = decideBatch(batch, (userId) =>
          registers.get(registerKey(cohortId, userId)),
        );
        for (const { userId, register } of writes) registers.set(registerKey(cohortId, userId), register);
        counts.set(cohortId, (counts.get(cohortId) ?? 0) + memberDelta);
      }
    },
    async memberCount(cohortId) {
      return counts.get(cohortId) ?? 0;
    },
    async readRegisters(cohortId, userIds) {
      return userIds.map((userId) => registers.get(registerKey(cohortId, userId)));
    },
    sizeOnDisk: () => 0,
    async close() {},
  };
}
