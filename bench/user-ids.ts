/**
 * @module The user ids the bench sends. Customers' ids are UUIDs, e-mail addresses or hashes: in
 * key order they are random, so consecutive users of a batch land on different B-tree pages. That
 * is the default; `sequential` (`user-1`, `user-2`, …) is kept as an option, for comparison only:
 * consecutive keys share pages, and it flatters every store (docs/performance.md).
 */

export const userIdStyles = ['uuid', 'email', 'hash', 'sequential'] as const;
export type UserIdStyle = (typeof userIdStyles)[number];

/** A mix of the mixed inputs: a bijection on 32-bit integers (a murmur3-style finaliser). */
function mix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const hex8 = (value: number) => value.toString(16).padStart(8, '0');

/** Four independent 32-bit words for user number `n` (distinct `n` give distinct words[0]). */
function words(n: number): [number, number, number, number] {
  const first = mix32(n);
  return [first, mix32(first ^ 0x9e3779b9), mix32(n + 0x7f4a7c15), mix32(first + 0x94d049bb)];
}

/**
 * The id of user number `n` (0 ≤ n < 2^32) in `style`: the same `n` always gives the same id, and
 * distinct numbers give distinct ids, in an order unrelated to `n` except for `sequential`.
 */
export function userIdFor(n: number, style: UserIdStyle): string {
  if (style === 'sequential') return `user-${n}`;
  const [a, b, c, d] = words(n);
  if (style === 'uuid') {
    const h = hex8(b);
    const l = hex8(c);
    return `${hex8(a)}-${h.slice(0, 4)}-4${h.slice(5, 8)}-${(((c >>> 28) & 0x3) | 0x8).toString(16)}${l.slice(1, 4)}-${l.slice(4)}${hex8(d)}`;
  }
  if (style === 'hash') return `${hex8(a)}${hex8(b)}${hex8(c)}${hex8(d)}${hex8(mix32(a ^ d))}`;
  return `${names[b % names.length]}.${names[c % names.length]}.${hex8(a)}@example.com`;
}

const names = [
  'alex',
  'sam',
  'jo',
  'maria',
  'li',
  'noor',
  'kai',
  'ana',
  'ivan',
  'mei',
  'omar',
  'lena',
  'raj',
  'eva',
  'tom',
  'yuki',
];
