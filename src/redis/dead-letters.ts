/**
 * @module DeadLetters in Redis (QUEUE=redis): one capped stream per kind under
 * `<KEY_PREFIX>:letters:`, so every receiver and worker writes to the same place and `npm run dlq`
 * reads it from anywhere.
 */
import type { Redis } from 'ioredis';
import {
  type DeadLetters,
  letterKinds as kinds,
  type Letter,
  type LetterKind,
} from '../core/dead-letters/dead-letters.ts';
import { deadLetterKeys } from './dead-letter-keys.ts';

/** The caller owns `redis` (a request-path connection) and closes it. */
export function createRedisDeadLetters(
  redis: Redis,
  options: { keyPrefix: string; maxPerKind: number },
): DeadLetters {
  const keys = deadLetterKeys(options.keyPrefix);

  // A letter's id is its kind and its stream entry id, e.g. `failed:1700000000000-0`.
  const parseId = (id: string): { kind: LetterKind; entryId: string } | undefined => {
    const [kind, entryId] = id.split(':');
    if (!kinds.includes(kind as LetterKind) || !/^\d+-\d+$/.test(entryId ?? '')) return undefined;
    return { kind: kind as LetterKind, entryId: entryId as string };
  };

  const toLetter = (kind: LetterKind, entryId: string, fields: string[]): Letter => {
    const field: Record<string, string> = {};
    for (let index = 0; index + 1 < fields.length; index += 2) {
      field[fields[index] as string] = fields[index + 1] as string;
    }
    return {
      id: `${kind}:${entryId}`,
      kind,
      reason: field.reason ?? '',
      body: field.body ?? '',
      // Entries written before the field existed are text.
      encoding: field.encoding === 'base64' ? 'base64' : 'utf8',
      truncated: field.truncated === '1',
      messageId: field.message_id || null,
      createdAt: Number(entryId.split('-')[0]),
      ...(field.received_bytes ? { receivedBytes: Number(field.received_bytes) } : {}),
    };
  };

  return {
    async add(letter) {
      // Exact MAXLEN: the bound is small, and "the newest QUARANTINE_MAX" should mean exactly that.
      const entryId = await redis.xadd(
        keys.letters(letter.kind),
        'MAXLEN',
        options.maxPerKind,
        '*',
        'reason',
        letter.reason,
        'body',
        letter.body,
        'encoding',
        letter.encoding ?? 'utf8',
        'truncated',
        letter.truncated ? '1' : '0',
        'message_id',
        letter.messageId ?? '',
        'received_bytes',
        letter.receivedBytes === undefined ? '' : String(letter.receivedBytes),
      );
      return `${letter.kind}:${entryId}`;
    },
    async list({ kind, limit = 100 } = {}) {
      const letters: Letter[] = [];
      for (const listed of kind === undefined ? kinds : [kind]) {
        const entries = await redis.xrevrange(keys.letters(listed), '+', '-', 'COUNT', limit);
        for (const [entryId, fields] of entries) letters.push(toLetter(listed, entryId, fields));
      }
      return letters.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
    },
    async get(id) {
      const parsed = parseId(id);
      if (parsed === undefined) return undefined;
      const [entry] = await redis.xrange(keys.letters(parsed.kind), parsed.entryId, parsed.entryId);
      return entry && toLetter(parsed.kind, entry[0], entry[1]);
    },
    async drop(id) {
      const parsed = parseId(id);
      if (parsed === undefined) return false;
      return (await redis.xdel(keys.letters(parsed.kind), parsed.entryId)) > 0;
    },
    async close() {},
  };
}
