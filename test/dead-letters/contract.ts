/**
 * The DeadLetters contract: every implementation (memory, sqlite, redis) runs this suite through
 * `describeDeadLettersContract(name, factory)`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DeadLetters,
  keptBody,
  type Letter,
  letterBytes,
  maxKeptBodyBytes,
} from '../../src/core/dead-letters/dead-letters.ts';

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
      expect(listed?.receivedBytes).toBeUndefined();
      expect(listed?.createdAt).toBeGreaterThan(Date.now() - 60_000);
      expect(await letters.get(listed?.id ?? '')).toEqual(listed);
    });

    it('resolves add with the id of the letter it kept', async () => {
      const letters = await open();
      const first = await letters.add({ kind: 'rejected', reason: 'r1', body: 'one' });
      const second = await letters.add({ kind: 'sink', reason: 'r2', body: 'two' });
      expect(first).not.toBe(second);
      expect(await letters.get(first)).toMatchObject({ id: first, reason: 'r1', body: 'one' });
      expect(await letters.get(second)).toMatchObject({ id: second, reason: 'r2', body: 'two' });
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

    it('keeps a body that is not UTF-8 byte for byte, and says so', async () => {
      const letters = await open();
      const sent = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x22, 0x7d]);
      await letters.add({
        kind: 'rejected',
        reason: 'invalid_json: body is not valid UTF-8',
        ...keptBody(sent),
      });
      const [listed] = await letters.list();
      expect(listed).toMatchObject({ encoding: 'base64', truncated: false });
      expect(letterBytes(listed as Letter).equals(sent)).toBe(true);
      expect(letterBytes((await letters.get(listed?.id ?? '')) as Letter).equals(sent)).toBe(true);
    });

    it('keeps a UTF-8 body as readable text, and a letter added without an encoding as text', async () => {
      const letters = await open();
      await letters.add({ kind: 'rejected', reason: 'r', ...keptBody(Buffer.from('{"a":"ü€"}')) });
      await letters.add({ kind: 'failed', reason: 'f', body: '{"b":"ü"}' });
      const kept = await letters.list();
      // Two kinds added in the same millisecond: their order is not what this test is about.
      const rejected = kept.find((letter) => letter.kind === 'rejected');
      const failed = kept.find((letter) => letter.kind === 'failed');
      expect(rejected).toMatchObject({ body: '{"a":"ü€"}', encoding: 'utf8' });
      expect(failed).toMatchObject({ body: '{"b":"ü"}', encoding: 'utf8' });
    });

    it('cuts a long body to the kept size, UTF-8 on a character boundary, other bytes exactly', async () => {
      const letters = await open();
      const text = Buffer.from(`${'x'.repeat(maxKeptBodyBytes - 1)}€€`);
      const binary = Buffer.concat([Buffer.alloc(maxKeptBodyBytes, 0xff), Buffer.from('tail')]);
      await letters.add({ kind: 'rejected', reason: 'text', ...keptBody(text) });
      await letters.add({ kind: 'rejected', reason: 'binary', ...keptBody(binary) });
      const [cutBinary, cutText] = await letters.list();
      // The size received goes with the cut, so the letter says what part of the body it holds.
      expect(cutText).toMatchObject({ truncated: true, encoding: 'utf8', receivedBytes: text.length });
      expect(cutBinary).toMatchObject({ receivedBytes: binary.length });
      expect(letterBytes(cutText as Letter).equals(text.subarray(0, maxKeptBodyBytes - 1))).toBe(true);
      expect(cutBinary).toMatchObject({ truncated: true, encoding: 'base64' });
      expect(letterBytes(cutBinary as Letter).equals(binary.subarray(0, maxKeptBodyBytes))).toBe(true);
    });
  });
}
