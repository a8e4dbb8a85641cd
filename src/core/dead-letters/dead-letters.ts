/**
 * @module The DeadLetters port: bodies set aside for an operator to inspect, replay or drop.
 * Two kinds share it: `rejected` bodies (the quarantine of 400/422 answers, kept raw so a fixed
 * template's output can be compared and the body replayed) and `failed` batches (accepted, but the
 * store refused them on every attempt). A third, `sink`, holds membership changes a sink would not
 * take (`src/sinks/dispatcher.ts`); `replaySinkLetter` in `src/replay/resend-sink-letter.ts` sends them again.
 */

import { isUtf8 } from 'node:buffer';

export type LetterKind = 'rejected' | 'failed' | 'sink';

/** Every kind, for code that must cover them all (listing, the zeroed metric series). */
export const letterKinds: readonly LetterKind[] = ['rejected', 'failed', 'sink'];

/**
 * How a letter's `body` holds its bytes: `utf8`, the text itself, or `base64`, for a body that is
 * not valid UTF-8 and would be changed by any text column (each bad byte turned into U+FFFD).
 */
export type BodyEncoding = 'utf8' | 'base64';

export interface NewLetter {
  kind: LetterKind;
  /** Why it was set aside: the validation issues or the last apply error. */
  reason: string;
  /** The raw body (rejected, possibly truncated) or the normalised batch as JSON (failed). */
  body: string;
  /** @default 'utf8' */
  encoding?: BodyEncoding;
  /** True when `body` was cut to the size limit. */
  truncated?: boolean;
  /** The body's size as it was received, when `truncated`: what the kept bytes are the start of. */
  receivedBytes?: number;
  messageId?: string;
}

export interface Letter extends Required<Omit<NewLetter, 'messageId' | 'encoding' | 'receivedBytes'>> {
  id: string;
  messageId: string | null;
  /** Every backend sets it; a letter built by hand without it is text. */
  encoding?: BodyEncoding;
  /** Epoch ms. */
  createdAt: number;
  /** Set on a letter cut when kept (`truncated`), unless it was kept before the size was recorded. */
  receivedBytes?: number;
}

export interface DeadLetters {
  /** Keeps a letter and resolves with its id; the oldest of its kind go when more than the bound are kept. */
  add(letter: NewLetter): Promise<string>;
  /** Newest first. */
  list(options?: { kind?: LetterKind; limit?: number }): Promise<Letter[]>;
  get(id: string): Promise<Letter | undefined>;
  /** Removes it; false if there was none. */
  drop(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Rejected bodies are kept up to this many bytes: enough to see what a template produced, and
 * QUARANTINE_MAX of them fit in memory (Redis holds them in RAM) whatever MAX_BODY_BYTES allows.
 */
export const maxKeptBodyBytes = 64 * 1024;

/** Cuts a body to the kept size, on a character boundary. */
export function truncateBody(body: string): { body: string; truncated: boolean } {
  if (body.length <= maxKeptBodyBytes / 4 || Buffer.byteLength(body) <= maxKeptBodyBytes) {
    return { body, truncated: false };
  }
  const bytes = Buffer.from(body);
  return {
    body: bytes.subarray(0, characterBoundary(bytes, maxKeptBodyBytes)).toString('utf8'),
    truncated: true,
  };
}

/**
 * The fields of a letter that keep `raw` exactly: as text when it is UTF-8 (readable in `dlq
 * list` and `show`), else base64, so a replay or a download gives back the bytes that were sent.
 */
export function keptBody(
  raw: Buffer,
): Required<Pick<NewLetter, 'body' | 'encoding' | 'truncated'>> & Pick<NewLetter, 'receivedBytes'> {
  // The received size goes with a cut body, so whoever reads the letter knows what part it holds.
  const received = (kept: { truncated: boolean }) => (kept.truncated ? { receivedBytes: raw.length } : {});
  if (isUtf8(raw)) {
    const kept = truncateBody(raw.toString('utf8'));
    return { ...kept, encoding: 'utf8', ...received(kept) };
  }
  const truncated = raw.length > maxKeptBodyBytes;
  const kept = truncated ? raw.subarray(0, maxKeptBodyBytes) : raw;
  return { body: kept.toString('base64'), encoding: 'base64', truncated, ...received({ truncated }) };
}

/** The bytes a letter holds, decoded from its encoding. */
export function letterBytes(letter: Pick<Letter, 'body' | 'encoding'>): Buffer {
  return Buffer.from(letter.body, letter.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * What a letter's body holds, for a person: `1,234 bytes`, or for a cut one
 * `the first 64 KiB of 7.5 MiB received`, so nobody takes the part for the whole.
 */
export function keptBodySize(
  letter: Pick<Letter, 'body' | 'encoding' | 'truncated' | 'receivedBytes'>,
): string {
  const kept = letterBytes(letter).length;
  if (!letter.truncated) return `${kept.toLocaleString('en-US')} bytes`;
  const of = letter.receivedBytes === undefined ? '' : ` of ${byteSize(letter.receivedBytes)} received`;
  return `the first ${byteSize(kept)}${of}`;
}

/** `812 B`, `64 KiB`, `7.5 MiB`. */
function byteSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${Number(value.toFixed(digits))} ${units[unit]}`;
}

/** The largest cut at or below `limit` that does not split a UTF-8 sequence of `bytes`. */
function characterBoundary(bytes: Buffer, limit: number): number {
  let cut = limit;
  // A continuation byte (10xxxxxx) at the cut belongs to the character before it.
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut -= 1;
  return cut;
}
