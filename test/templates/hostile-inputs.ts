/**
 * @module Amplitude `input` objects (docs/amplitude.md) built to break a template: characters JSON must
 * escape, numbers a locale would group, booleans, nulls, many properties, many users, none at all.
 */

/** A property value as Amplitude hands it to the template. */
export type PropertyValue =
  | string
  | number
  | boolean
  | null
  | PropertyValue[]
  | { [key: string]: PropertyValue };

export interface TemplateUser {
  /** A string in Amplitude; a number here checks that templates still emit a JSON string. */
  user_id: string | number;
  /** Absent, null, or the properties chosen for the sync. */
  user_properties?: Record<string, PropertyValue> | null;
}

/** The template's root variable `input`. */
export interface TemplateInput {
  cohort_name: string;
  cohort_id: string;
  in_cohort: boolean;
  /** A string of epoch seconds in Amplitude; a number here checks the templates cope. */
  computed_time: string | number;
  message_id: string;
  users: TemplateUser[];
}

export interface HostileInput {
  name: string;
  input: TemplateInput;
}

/** Every character class JSON cares about, plus text that looks like FreeMarker or HTML. */
const nasty = [
  'He said "hi"',
  'back\\slash \\" \\\\',
  'new\nline\r\ncarriage',
  'tab\there',
  'controls \u0000\u0001\u0008\u000b\u000c\u001f\u007f',
  'unicode é ß 日本語 Ωμέγα',
  'emoji 😀👩‍👩‍👧 \u{1f600}',
  'separators \u2028 \u2029',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: text that looks like FreeMarker must come out as text.
  'markup </script><!-- ${input.cohort_name} <#if true>x</#if> [#ftl]',
  "single 'quotes' and `ticks`",
  '',
].join(' | ');

const envelope = {
  cohort_name: 'Trial ending soon',
  cohort_id: 'q3k9xw1',
  in_cohort: true,
  computed_time: '1692206763',
} as const;

/** `count` users `prefix-1`… each with `properties(i)`. */
function usersOf(
  count: number,
  prefix: string,
  properties?: (index: number) => Record<string, PropertyValue>,
) {
  return Array.from({ length: count }, (_, index) =>
    properties
      ? { user_id: `${prefix}-${index + 1}`, user_properties: properties(index) }
      : { user_id: `${prefix}-${index + 1}` },
  );
}

function fiftyProperties(index: number): Record<string, PropertyValue> {
  const properties: Record<string, PropertyValue> = {};
  for (let key = 0; key < 50; key++) {
    const kind = key % 5;
    properties[`property_${key}`] =
      kind === 0
        ? `value ${index}/${key} "quoted" \\ é`
        : kind === 1
          ? 1000 * key + index
          : kind === 2
            ? key % 2 === 0
            : kind === 3
              ? null
              : (index + key) / 8;
  }
  return properties;
}

/** The inputs every shipped template is rendered with. Cohort ids hold no `_` (see per-user-flags.ftl). */
export function hostileInputs(): HostileInput[] {
  return [
    {
      name: "Amplitude's example input",
      input: {
        ...envelope,
        message_id: '0b6f3f0e-5c1a-4d7e-9a61-1f2b3c4d5e6f',
        users: [
          {
            user_id: 'user-1001',
            user_properties: { plan: 'trial', sessions: 17, beta: false, country: 'US' },
          },
          {
            user_id: 'user-1002',
            user_properties: { plan: 'trial', sessions: 4, beta: true, country: 'FR' },
          },
        ],
      },
    },
    {
      name: 'strings with quotes, backslashes, newlines, control characters and unicode everywhere',
      input: {
        cohort_name: `Power users_2024 ${nasty}`,
        cohort_id: 'q3k9"x\\w1-é😀',
        in_cohort: true,
        computed_time: '1692206763',
        message_id: `run "7"::enter::1 ${nasty}`,
        users: [
          { user_id: `user ${nasty}`, user_properties: { [`key ${nasty}`]: nasty, plain: 'x' } },
          { user_id: 'ユーザー-😀', user_properties: { 'a"b': 'c\\d', 'new\nline': '\u2028' } },
          { user_id: '</script>', user_properties: { nested: 'no' } },
        ],
      },
    },
    {
      name: 'numbers a locale would format: thousands, big integers, decimals, negatives',
      input: {
        ...envelope,
        computed_time: 1692206763,
        message_id: 'numbers::enter::1',
        users: [
          {
            user_id: 'numbers-1',
            user_properties: {
              thousand: 1000,
              million: 1234567,
              biggest_safe: 9007199254740991,
              negative: -42000,
              zero: 0,
              decimal: 1234.5678,
              tenth: 0.1,
              small: -0.000123,
              huge: 1e21,
              pi: Math.PI,
              third: 1 / 3,
            },
          },
          { user_id: 1234567, user_properties: { id_was_a_number: true } },
        ],
      },
    },
    {
      name: 'booleans, null values, null and absent and empty user_properties',
      input: {
        ...envelope,
        message_id: 'booleans::enter::1',
        users: [
          { user_id: 'flags-1', user_properties: { beta: true, churned: false, plan: null } },
          { user_id: 'flags-2', user_properties: null },
          { user_id: 'flags-3' },
          { user_id: 'flags-4', user_properties: {} },
          { user_id: 'flags-5', user_properties: { only_null: null } },
        ],
      },
    },
    {
      name: 'list and nested object values',
      input: {
        ...envelope,
        message_id: 'nested::enter::1',
        users: [
          {
            user_id: 'nested-1',
            user_properties: {
              tags: ['a', 'b "c"', 3, true, null],
              address: { city: 'Zürich', zip: 8001, verified: false, extra: null, lines: ['1', '2'] },
              empty_list: [],
              empty_object: {},
            },
          },
        ],
      },
    },
    {
      name: '50 properties per user',
      input: { ...envelope, message_id: 'fifty::enter::1', users: usersOf(100, 'fifty', fiftyProperties) },
    },
    {
      name: '10,000 users',
      input: {
        ...envelope,
        message_id: 'many::enter::1',
        users: usersOf(10_000, 'many', (index) => ({
          plan: index % 2 ? 'pro' : 'trial',
          sessions: index * 1000,
          beta: index % 3 === 0,
        })),
      },
    },
    { name: 'zero users', input: { ...envelope, message_id: 'empty::enter::1', users: [] } },
    {
      name: 'a remove batch',
      input: {
        ...envelope,
        in_cohort: false,
        computed_time: '1692210363',
        message_id: 'remove::exit::1',
        users: [{ user_id: 'user-1002', user_properties: { plan: 'pro', sessions: 9000 } }],
      },
    },
  ];
}
