/** @module The kinds of setting every part reads from the environment, each with one plain message. */
import { z } from 'zod';

/** A whole number with bounds. */
export function integer(defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  const error =
    max === Number.MAX_SAFE_INTEGER
      ? `must be an integer, at least ${min}`
      : `must be an integer from ${min} to ${max}`;
  return z.coerce
    .number({ error })
    .int({ error })
    .min(min, { error })
    .max(max, { error })
    .default(defaultValue);
}

/** Comma-separated list; blanks dropped, so `AUTH_TOKENS="a, b,"` means ["a", "b"]. */
export const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

/** `on` or `off`, as a boolean. */
export function onOff(defaultValue: 'on' | 'off') {
  return z
    .enum(['on', 'off'], 'must be "on" or "off"')
    .default(defaultValue)
    .transform((value) => value === 'on');
}
