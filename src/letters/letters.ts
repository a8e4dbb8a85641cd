/**
 * @module The DeadLetters port: bodies set aside for an operator to inspect, replay or drop.
 * Two kinds share it: `rejected` bodies (the quarantine of 400/422 answers, kept raw so a fixed
 * template's output can be compared and the body replayed) and `failed` batches (accepted, but the
 * store refused them on every attempt). A third, `sink`, holds membership changes a sink would not
 * take (`src/sinks/dispatcher.ts`); `replaySinkLetter` in `src/sinks/replay.ts` sends them again.
 */

export type LetterKind = 'rejected' | 'failed' | 'sink';

export interface NewLetter {
  kind: LetterKind;
  /** Why it was set aside: the validation issues or the last apply error. */
  reason: string;
  /** The raw body (rejected, possibly truncated) or the normalised batch as JSON (failed). */
  body: string;
  /** True when `body` was cut to the size limit. */
  truncated?: boolean;
  messageId?: string;
}

export interface Letter extends Required<Omit<NewLetter, 'messageId'>> {
  id: string;
  messageId: string | null;
  /** Epoch ms. */
  createdAt: number;
}

export interface DeadLetters {
  /** Keeps a letter; the oldest of its kind go when more than the bound are kept. */
  add(letter: NewLetter): Promise<void>;
  /** Newest first. */
  list(options?: { kind?: LetterKind; limit?: number }): Promise<Letter[]>;
  get(id: string): Promise<Letter | undefined>;
  /** Removes it; false if there was none. */
  drop(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Rejected bodies are kept up to this many bytes: enough to see what a template produced. */
export const maxKeptBodyBytes = 64 * 1024;

/** Cuts a body to the kept size, on a character boundary. */
export function truncateBody(body: string): { body: string; truncated: boolean } {
  if (body.length <= maxKeptBodyBytes / 4 || Buffer.byteLength(body) <= maxKeptBodyBytes) {
    return { body, truncated: false };
  }
  return { body: Buffer.from(body).subarray(0, maxKeptBodyBytes).toString('utf8'), truncated: true };
}
