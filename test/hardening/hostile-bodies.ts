/**
 * @module Hostile request bodies for the fuzz tests: valid Amplitude bodies (both shapes), then
 * mutated as an attacker or a broken template would — wrong types, prototype keys, huge strings,
 * deep nesting, truncation, stray bytes, invalid UTF-8 — plus arbitrary JSON and raw bytes.
 */
import fc from 'fast-check';

/** A body to post, with what was done to it (shown when a property fails). */
export interface HostileBody {
  label: string;
  bytes: Buffer;
}

type Json = Record<string, unknown>;

const prototypeKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'] as const;

/** Own, enumerable data properties even for `__proto__`, as JSON.parse makes them. */
function withOwnKey(target: Json, key: string, value: unknown): Json {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

const userId = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(...prototypeKeys) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) },
);

const userProperties = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant({}),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
);

const user = fc
  .record({ user_id: userId, user_properties: userProperties }, { requiredKeys: ['user_id'] })
  .map((value) => (value.user_properties === undefined ? { user_id: value.user_id } : value));

/** A cohort id unlikely to repeat, so each accepted body names its own cohort. */
const cohortId = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
  minLength: 10,
  maxLength: 10,
});

const defaultShape = fc.record({
  cohort_name: fc.string({ maxLength: 20 }),
  cohort_id: cohortId,
  in_cohort: fc.boolean(),
  computed_time: fc.oneof(fc.nat({ max: 2_000_000_000 }).map(String), fc.nat({ max: 2_000_000_000 })),
  message_id: fc.uuid(),
  users: fc.array(user, { maxLength: 12 }),
});

const perUserFlags = fc
  .tuple(
    cohortId,
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.array(userId, { minLength: 1, maxLength: 12 }),
  )
  .map(([id, name, flag, ids]) => ids.map((user_id) => ({ user_id, [`amplitude_${name}_${id}`]: flag })));

/** Changes made to the body as an object, before it is serialised. */
const objectMutation = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('retype' as const),
      field: fc.constantFrom('cohort_name', 'cohort_id', 'in_cohort', 'computed_time', 'message_id', 'users'),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('prototypeKey' as const),
      where: fc.constantFrom('root', 'user', 'properties'),
      key: fc.constantFrom(...prototypeKeys),
      value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ users: [], polluted: true })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('hugeString' as const),
      field: fc.constantFrom('user_id', 'cohort_id', 'message_id', 'cohort_name', 'property'),
      length: fc.constantFrom(1024, 1025, 100_000, 1_000_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deepProperty' as const),
      depth: fc.constantFrom(30, 31, 32, 33, 1000, 100_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('manyProperties' as const),
      count: fc.constantFrom(0, 50, 200, 201, 5000),
    }),
  },
);

/** Changes made to the serialised bytes. */
const byteMutation = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('overwrite' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      text: fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.constantFrom(
          '{',
          '[',
          ']',
          '}',
          '"',
          '\\',
          ',',
          ':',
          'null',
          '\\u0000',
          '\\ud800',
          '"__proto__":{},',
        ),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('invalidUtf8' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      // A stray continuation byte, a cut 2-byte sequence, an encoded surrogate, past U+10FFFF, overlong.
      bytes: fc.constantFrom(
        [0xff],
        [0x80],
        [0xc3],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xc0, 0xaf],
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wrapInArrays' as const),
      depth: fc.constantFrom(1, 100, 100_000),
    }),
  },
);

type ObjectMutation = typeof objectMutation extends fc.Arbitrary<infer T> ? T : never;
type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never;

const deepMarker = '"__deep_value__"';

function mutateObject(body: Json | Json[], mutation: ObjectMutation): Json | Json[] {
  const root = Array.isArray(body) ? (body[0] ?? {}) : body;
  const users = Array.isArray(body) ? body : Array.isArray(root.users) ? (root.users as Json[]) : [];
  const firstUser = users[0] ?? {};
  switch (mutation.kind) {
    case 'none':
      return body;
    case 'retype':
      root[mutation.field] = mutation.value;
      return body;
    case 'prototypeKey': {
      if (mutation.where === 'properties') firstUser.user_properties ??= {};
      const target =
        mutation.where === 'root'
          ? root
          : mutation.where === 'user'
            ? firstUser
            : (firstUser.user_properties as Json);
      withOwnKey(target, mutation.key, mutation.value);
      return body;
    }
    case 'hugeString': {
      const text = 'x'.repeat(mutation.length);
      if (mutation.field === 'property') firstUser.user_properties = { huge: text };
      else if (mutation.field === 'user_id') firstUser.user_id = text;
      else root[mutation.field] = text;
      return body;
    }
    case 'deepProperty':
      firstUser.user_properties = { deep: '__deep_value__' };
      return body;
    case 'manyProperties':
      firstUser.user_properties = Object.fromEntries(
        Array.from({ length: mutation.count }, (_, index) => [`p${index}`, index]),
      );
      return body;
  }
}

function serialise(body: Json | Json[], mutation: ObjectMutation): string {
  const text = JSON.stringify(body);
  if (mutation.kind !== 'deepProperty') return text;
  // Built as text: JSON.stringify itself overflows the stack on a value this deep.
  return text.replace(deepMarker, `${'['.repeat(mutation.depth)}1${']'.repeat(mutation.depth)}`);
}

function mutateBytes(bytes: Buffer, mutation: ByteMutation): Buffer {
  const position = (at: number) => Math.min(bytes.length, Math.floor(at * bytes.length));
  switch (mutation.kind) {
    case 'none':
      return bytes;
    case 'truncate':
      return bytes.subarray(0, position(mutation.at));
    case 'overwrite': {
      const copy = Buffer.from(bytes);
      copy.set(
        mutation.bytes.subarray(0, Math.max(0, copy.length - position(mutation.at))),
        position(mutation.at),
      );
      return copy;
    }
    case 'insert':
    case 'invalidUtf8': {
      const inserted = mutation.kind === 'insert' ? Buffer.from(mutation.text) : Buffer.from(mutation.bytes);
      const at = position(mutation.at);
      return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
    }
    case 'wrapInArrays':
      return Buffer.concat([
        Buffer.from('['.repeat(mutation.depth)),
        bytes,
        Buffer.from(']'.repeat(mutation.depth)),
      ]);
  }
}

/** A valid body of either shape, mutated (or not) as an object and then as bytes. */
export const mutatedBody: fc.Arbitrary<HostileBody> = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: defaultShape }, { weight: 1, arbitrary: perUserFlags }),
    objectMutation,
    byteMutation,
  )
  .map(([body, objectChange, byteChange]) => {
    const mutated = mutateObject(structuredClone(body) as Json | Json[], objectChange);
    return {
      label: `${Array.isArray(body) ? 'flags' : 'default'} ${objectChange.kind} ${byteChange.kind}`,
      bytes: mutateBytes(Buffer.from(serialise(mutated, objectChange)), byteChange),
    };
  });

/** Any JSON value at all, as a body. */
export const arbitraryJson: fc.Arbitrary<HostileBody> = fc
  .jsonValue({ maxDepth: 6 })
  .map((value) => ({ label: 'arbitrary json', bytes: Buffer.from(JSON.stringify(value) ?? '') }));

/** Any bytes at all, as a body. */
export const arbitraryBytes: fc.Arbitrary<HostileBody> = fc
  .uint8Array({ maxLength: 512 })
  .map((bytes) => ({ label: 'arbitrary bytes', bytes: Buffer.from(bytes) }));

/** Hand-picked extremes, each with the status it must get under the default payload limits. */
export function extremeBodies(maxBodyBytes: number): (HostileBody & { expected: number })[] {
  const batch = (users: unknown[], messageId: string) =>
    JSON.stringify({
      cohort_name: 'Extreme',
      cohort_id: `extreme-${messageId}`,
      in_cohort: true,
      computed_time: '1700000000',
      message_id: messageId,
      users,
    });
  const ids = (count: number) => Array.from({ length: count }, (_, index) => ({ user_id: `u${index}` }));
  const body = (label: string, text: string | Buffer, expected: number) => ({
    label,
    bytes: typeof text === 'string' ? Buffer.from(text) : text,
    expected,
  });
  return [
    body('a 100,000-user batch', batch(ids(100_000), 'hundred-thousand'), 200),
    body('a 100,001-user batch', batch(ids(100_001), 'one-too-many'), 422),
    body('empty body', '', 400),
    body('whitespace', ' \n\t ', 400),
    body('null', 'null', 422),
    body('a string', '"users"', 422),
    body('an empty object', '{}', 422),
    body('an empty array', '[]', 422),
    body('a byte-order mark before valid JSON', `\ufeff${batch(ids(1), 'bom')}`, 400),
    body('100,000 nested arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, 422),
    body('100,000 nested objects', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`, 422),
    body('1,000,000 unclosed arrays', '['.repeat(1_000_000), 400),
    body(
      'user_properties nested 100,000 deep',
      batch([{ user_id: 'deep', user_properties: { deep: '__deep_value__' } }], 'deep-properties').replace(
        deepMarker,
        `${'['.repeat(100_000)}1${']'.repeat(100_000)}`,
      ),
      422,
    ),
    body('empty user_properties', batch([{ user_id: 'a', user_properties: {} }], 'empty-properties'), 200),
    body(
      '200 user_properties (the limit)',
      batch(
        [{ user_id: 'a', user_properties: Object.fromEntries(ids(200).map((_, i) => [`p${i}`, i])) }],
        'p200',
      ),
      200,
    ),
    body(
      '201 user_properties',
      batch(
        [{ user_id: 'a', user_properties: Object.fromEntries(ids(201).map((_, i) => [`p${i}`, i])) }],
        'p201',
      ),
      422,
    ),
    body(
      'a 4 MB property value',
      batch([{ user_id: 'a', user_properties: { big: 'x'.repeat(4_000_000) } }], 'big-property'),
      200,
    ),
    body('a 1,025-character user_id', batch([{ user_id: 'x'.repeat(1025) }], 'long-user-id'), 422),
    body(
      'a batch hidden under __proto__',
      `{"__proto__":${batch(ids(1), 'hidden')},"constructor":{"prototype":{"polluted":true}}}`,
      422,
    ),
    body(
      'lone surrogate escapes in ids',
      batch([{ user_id: 'a\\ud800b' }, { user_id: 'a\\udbffb' }], 'surrogates').replaceAll('\\\\u', '\\u'),
      200,
    ),
    body(
      'invalid UTF-8 inside a string',
      Buffer.concat([Buffer.from('{"cohort_name":"'), Buffer.from([0xff]), Buffer.from('"}')]),
      400,
    ),
    body('one byte over MAX_BODY_BYTES', Buffer.alloc(maxBodyBytes + 1, ' '), 413),
    body('64 MiB', Buffer.alloc(64 * 1024 * 1024, '['), 413),
  ];
}
