/**
 * @module The Redis dead letters' key names, under `<KEY_PREFIX>:letters:`, beside the queue's
 * `<KEY_PREFIX>:queue:` and the store's `<KEY_PREFIX>:store:`.
 */
import type { LetterKind } from '../core/dead-letters/dead-letters.ts';

/** The dead letters' key names under one prefix. */
export interface DeadLetterKeys {
  /** STREAM per kind (`rejected`, `failed`, `sink`), capped at QUARANTINE_MAX entries, newest last. */
  letters(kind: LetterKind): string;
  pattern: string;
}

export function deadLetterKeys(keyPrefix: string): DeadLetterKeys {
  const root = `${keyPrefix}:letters:`;
  return { letters: (kind) => root + kind, pattern: `${root}*` };
}
