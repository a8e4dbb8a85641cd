/** @module Counted nouns: "1 attempt", "2 attempts", so no page writes "1 letters match". */
import { formatCount } from './format.ts';

/** `1 letter`, `1,200 letters`; `many` for irregular plurals. */
export const plural = (count: number, one: string, many = `${one}s`) =>
  `${formatCount(count)} ${count === 1 ? one : many}`;

/** The verb agreeing with `count`: `1 matches`, `2 match`. */
export const agree = (count: number, one: string, many: string) => (count === 1 ? one : many);
