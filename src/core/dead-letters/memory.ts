/** @module DeadLetters kept in process memory: for tests and throwaway runs (lost on exit). */
import { randomUUID } from 'node:crypto';
import type { DeadLetters, Letter } from './dead-letters.ts';

export function createMemoryDeadLetters(options: { maxPerKind: number }): DeadLetters {
  const letters: Letter[] = [];
  return {
    async add(letter) {
      const id = randomUUID();
      letters.push({
        id,
        kind: letter.kind,
        reason: letter.reason,
        body: letter.body,
        encoding: letter.encoding ?? 'utf8',
        truncated: letter.truncated ?? false,
        messageId: letter.messageId ?? null,
        createdAt: Date.now(),
        ...(letter.receivedBytes === undefined ? {} : { receivedBytes: letter.receivedBytes }),
      });
      const ofKind = letters.filter((kept) => kept.kind === letter.kind);
      if (ofKind.length > options.maxPerKind) letters.splice(letters.indexOf(ofKind[0] as Letter), 1);
      return id;
    },
    async list({ kind, limit = 100 } = {}) {
      return letters
        .filter((letter) => kind === undefined || letter.kind === kind)
        .reverse()
        .slice(0, limit);
    },
    async get(id) {
      return letters.find((letter) => letter.id === id);
    },
    async drop(id) {
      const index = letters.findIndex((letter) => letter.id === id);
      if (index >= 0) letters.splice(index, 1);
      return index >= 0;
    },
    async close() {},
  };
}
