/**
 * @module The body shapes `--shape` names, one list for `npm run simulate` and `npm run bench`:
 * Amplitude's default payload and one per template in templates/.
 */

/**
 * - `default`: Amplitude's default payload with user_properties (templates/with-properties.ftl);
 * - `user-ids-only`: the default payload without properties (templates/user-ids-only.ftl);
 * - `per-user-flags`: `[{"user_id":…, "amplitude_<name>_<id>": true|false}]` (templates/per-user-flags.ftl).
 */
export const payloadShapes = ['default', 'user-ids-only', 'per-user-flags'] as const;
export type PayloadShape = (typeof payloadShapes)[number];

/** Other names accepted: the template's name for the default shape, and the bench's old names. */
const aliases: Record<string, PayloadShape> = {
  'with-properties': 'default',
  'user-ids': 'user-ids-only',
  flags: 'per-user-flags',
};

/** The shape `name` stands for, or undefined when it names none. */
export function payloadShapeNamed(name: string): PayloadShape | undefined {
  return (payloadShapes as readonly string[]).includes(name) ? (name as PayloadShape) : aliases[name];
}

/** For usage texts and errors: `default | user-ids-only | per-user-flags`. */
export const payloadShapeList = payloadShapes.join(' | ');
