/** @module A bounded memory of message_ids, for the memory queue's dedupe. */

/**
 * Remembers ids for at least `ttlMs` (and at most twice that), in at most `maxIds` entries.
 *
 * Two generations of Maps are rotated instead of evicting the oldest key of one capped Map:
 * `map.keys().next()` gets slow once many keys were deleted (V8 skips the holes), which showed in
 * small-body throughput; a rotation is one assignment.
 * Under a flood of more than `maxIds / 2` ids per TTL, ids are forgotten early: memory wins.
 */
export class SeenIds {
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #generationStartedAt: number;
  readonly #ttlMs: number;
  readonly #maxIds: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxIds?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxIds = options.maxIds ?? 1_000_000;
    this.#now = options.now ?? Date.now;
    this.#generationStartedAt = this.#now();
  }

  has(id: string): boolean {
    const seenAt = this.#current.get(id) ?? this.#previous.get(id);
    return seenAt !== undefined && this.#now() - seenAt < this.#ttlMs;
  }

  add(id: string): void {
    const now = this.#now();
    if (now - this.#generationStartedAt >= this.#ttlMs || this.#current.size >= this.#maxIds / 2) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#generationStartedAt = now;
    }
    this.#current.set(id, now);
  }

  /** Forgets an id, so a batch that could not be enqueued after all can be retried. */
  delete(id: string): void {
    this.#current.delete(id);
    this.#previous.delete(id);
  }
}
