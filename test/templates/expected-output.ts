/**
 * @module What each shipped template must render for an input (as a JSON value), and what the
 * receiver must then hold, worked out in plain TypeScript to compare the engine's output against.
 */
import type { TemplateInput, TemplateUser } from './hostile-inputs.ts';

export const shippedTemplates = ['with-properties', 'user-ids-only', 'per-user-flags'] as const;
export type ShippedTemplate = (typeof shippedTemplates)[number];

/** What the templates' `text()` function prints: numbers in computer format, strings as they are. */
const text = (value: string | number) => String(value);

/** The JSON value the template must produce for `input`. */
export function expectedBody(template: ShippedTemplate, input: TemplateInput): unknown {
  if (template === 'per-user-flags') {
    const flag = `amplitude_${input.cohort_name}_${input.cohort_id}`;
    return input.users.map((user) => ({ user_id: text(user.user_id), [flag]: input.in_cohort }));
  }
  return {
    cohort_name: input.cohort_name,
    cohort_id: input.cohort_id,
    in_cohort: input.in_cohort,
    computed_time: text(input.computed_time),
    message_id: input.message_id,
    users: input.users.map((user) =>
      template === 'with-properties' && user.user_properties != null
        ? { user_id: text(user.user_id), user_properties: user.user_properties }
        : { user_id: text(user.user_id) },
    ),
  };
}

export interface ExpectedMember {
  user_id: string;
  /** undefined: not predictable (the per-user flag list is timed by its arrival). */
  since: number | undefined;
  user_properties: unknown;
}

/** The members the receiver must list for the input's cohort once the rendered body is applied. */
export function expectedMembers(template: ShippedTemplate, input: TemplateInput): ExpectedMember[] {
  if (!input.in_cohort) return [];
  const since = template === 'per-user-flags' ? undefined : Number(input.computed_time);
  return input.users.map((user: TemplateUser) => ({
    user_id: text(user.user_id),
    since,
    user_properties: template === 'with-properties' ? (user.user_properties ?? null) : null,
  }));
}
