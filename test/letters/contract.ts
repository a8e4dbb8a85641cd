/**
 * The DeadLetters contract: every implementation (memory, sqlite, redis) runs this suite through
 * `describeDeadLettersContract(name, factory)`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeadLetters } from '../../src/letters/letters.ts';

export type DeadLettersFactory = (options: {
  maxPerKind: number;
}) => Promise<{ letters: DeadLetters; cleanup: () => Promise<void> }>;

export function describeDeadLettersContract(name: string, factory: DeadLettersFactory) {
  describe(`DeadLetters contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    const open = async (maxPerKind = 100) => {
      const made = await factory({ maxPerKind });
      cleanups.push(async () => {
        await made.letters.close();
        await made.cleanup();
      });
      return made.letters;
    };
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    it('keeps a letter with its reason, body and message_id, and finds it by id', async () => {
      const letters = await open();
      await letters.add({ kind: 'failed', reason: 'store down', body: '{"a":"ü"}', messageId: 'm1' });
      const [listed] = await letters.list();
      expect(listed).toMatchObject({
        kind: 'failed',
        reason: 'store down',
        body: '{"a":"ü"}',
        truncated: false,
        messageId: 'm1',
      });
      expect(listed?.createdAt).toBeGreaterThan(Date.now() - 60_000);
      expect(await letters.get(listed?.id ?? '')).toEqual(listed);
    });

    it('lists newest first, filtered by kind and cut to the limit', async () => {
      const letters = await open();
      await letters.add({ kind: 'rejected', reason: 'r1', body: 'x', truncated: true });
      await letters.add({ kind: 'failed', reason: 'f1', body: 'y' });
      await letters.add({ kind: 'rejected', reason: 'r2', body: 'z' });
      expect((await letters.list({ kind: 'rejected' })).map((letter) => letter.reason)).toEqual(['r2', 'r1']);
      expect((await letters.list({ kind: 'rejected' }))[1]).toMatchObject({
        truncated: true,
        messageId: null,
      });
      expect((await letters.list({ kind: 'failed' })).map((letter) => letter.reason)).toEqual(['f1']);
      expect(await letters.list({ limit: 2 })).toHaveLength(2);
    });

    it('keeps only the newest maxPerKind of each kind', async () => {
      const letters = await open(2);
      for (const reason of ['r1', 'r2', 'r3']) await letters.add({ kind: 'rejected', reason, body: '' });
      await letters.add({ kind: 'failed', reason: 'f1', body: '' });
      expect((await letters.list({ kind: 'rejected' })).map((letter) => letter.reason)).toEqual(['r3', 'r2']);
      expect(await letters.list({ kind: 'failed' })).toHaveLength(1);
    });

    it('drops a letter by id, and answers false and undefined for an unknown one', async () => {
      const letters = await open();
      await letters.add({ kind: 'failed', reason: 'f', body: '' });
      const [letter] = await letters.list();
      expect(await letters.drop(letter?.id ?? '')).toBe(true);
      expect(await letters.drop(letter?.id ?? '')).toBe(false);
      expect(await letters.get(letter?.id ?? '')).toBeUndefined();
      expect(await letters.get('no-such-id')).toBeUndefined();
      expect(await letters.list()).toEqual([]);
    });
  });
}
