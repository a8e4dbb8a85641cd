/** @module The size limits a payload must respect, so one body cannot make the receiver hold or store without bound. */

/** Upper bounds checked while a payload is normalised; going over one is a PayloadError (422). */
export interface PayloadLimits {
  /**
   * Most users in one message. Amplitude does not document a batch size; its nearest documented
   * figures are 1,000 and 10,000 items per call, so this leaves ten times headroom.
   * @default 100_000
   */
  maxUsers: number;
  /** Longest `user_id`, in UTF-16 code units. @default 1024 */
  maxUserIdLength: number;
  /** Most `user_properties` keys per user. Amplitude carries at most 50. @default 200 */
  maxProperties: number;
  /** Longest `cohort_id`, `message_id` or `cohort_name` (and the per-user flag key's parts). @default 1024 */
  maxIdLength: number;
  /**
   * How deep objects and arrays may nest in one user's `user_properties`, the object itself being
   * level 1: `{"plan":"trial"}` is 1 deep, `{"tags":["a"]}` 2. Amplitude's properties are flat or
   * lists, so 32 is far above need and far below what overflows JSON.stringify (~10,000).
   * @default 32
   */
  maxPropertyDepth: number;
}

export const defaultPayloadLimits: Readonly<PayloadLimits> = Object.freeze({
  maxUsers: 100_000,
  maxUserIdLength: 1024,
  maxProperties: 200,
  maxIdLength: 1024,
  maxPropertyDepth: 32,
});

const limitNames = Object.keys(defaultPayloadLimits) as (keyof PayloadLimits)[];

/**
 * Fills in the defaults and checks each limit, so a bad option fails at construction with an exact
 * message instead of silently rejecting (or accepting) every payload later.
 * @throws TypeError when a limit is not a positive integer.
 */
export function resolvePayloadLimits(overrides: Partial<PayloadLimits> = {}): PayloadLimits {
  const limits = { ...defaultPayloadLimits };
  for (const name of limitNames) {
    const value: unknown = overrides[name] ?? defaultPayloadLimits[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(
        `Expected \`${name}\` to be a positive integer, got \`${String(value)}\` (${typeof value})`,
      );
    }
    limits[name] = value;
  }
  return limits;
}
