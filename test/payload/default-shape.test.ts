import { describe, expect, it } from 'vitest';
import { PayloadError, type PayloadIssue } from '../../src/core/errors.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';

const receivedAtMs = 1_700_000_000_000;

function issuesOf(run: () => unknown): PayloadIssue[] {
  try {
    run();
  } catch (error) {
    if (error instanceof PayloadError) return error.issues;
    throw error;
  }
  throw new Error('expected a PayloadError, but the body was accepted');
}

/** A valid default-shape body; `overrides` replace or (with undefined) remove top-level keys. */
function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    cohort_name: 'Trial ending soon',
    cohort_id: 'q3k9xw1',
    in_cohort: true,
    computed_time: '1692206763',
    message_id: 'run-1::enter::1',
    users: [{ user_id: 'user-1', user_properties: { plan: 'trial' } }],
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

const parse = createBatchParser();
const parseBody = (json: unknown) => parse(json, JSON.stringify(json), receivedAtMs);
const parseUsers = (users: unknown[]) => parseBody(body({ users })).users;
const issuesOfUsers = (users: unknown[]) => issuesOf(() => parseBody(body({ users })));

describe('the default shape: envelope', () => {
  it('accepts computed_time as a string of epoch seconds', () => {
    expect(parseBody(body({ computed_time: '1692206763' })).computedTime).toBe(1692206763);
  });

  it('accepts computed_time as a number of epoch seconds', () => {
    expect(parseBody(body({ computed_time: 1692206763 })).computedTime).toBe(1692206763);
  });

  it.each(['abc', '', ' 1692206763', '1692206763 ', '1e9', '0x10', '-5', '1692206763.5', 'Infinity'])(
    'rejects computed_time %j, which is not a string of digits',
    (computedTime) => {
      expect(issuesOf(() => parseBody(body({ computed_time: computedTime })))).toEqual([
        {
          path: 'computed_time',
          message: 'must be a whole, non-negative number of epoch seconds, e.g. "1692206763"',
        },
      ]);
    },
  );

  it.each([-1, 1692206763.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects computed_time %s, which is not a whole non-negative number',
    (computedTime) => {
      expect(issuesOf(() => parseBody(body({ computed_time: computedTime })))).toEqual([
        {
          path: 'computed_time',
          message: 'must be a whole, non-negative number of epoch seconds, e.g. "1692206763"',
        },
      ]);
    },
  );

  it.each([1692206763000, '1692206763000'])('rejects computed_time %j in milliseconds', (computedTime) => {
    expect(issuesOf(() => parseBody(body({ computed_time: computedTime })))).toEqual([
      {
        path: 'computed_time',
        message: 'must be epoch seconds, got 1692206763000 (after year 9999: milliseconds?)',
      },
    ]);
  });

  it('rejects computed_time that is neither a string nor a number', () => {
    expect(issuesOf(() => parseBody(body({ computed_time: true })))).toEqual([
      { path: 'computed_time', message: 'must be epoch seconds, as a string or a number, got a boolean' },
    ]);
  });

  it.each(['cohort_name', 'cohort_id', 'in_cohort', 'computed_time', 'message_id', 'users'])(
    'reports a missing %s as required at its path',
    (key) => {
      expect(issuesOf(() => parseBody(body({ [key]: undefined })))).toEqual([
        { path: key, message: 'is required' },
      ]);
    },
  );

  it.each([
    ['cohort_id', 42, 'must be a non-empty string, got a number'],
    ['cohort_id', '', 'must not be empty'],
    ['message_id', null, 'must be a non-empty string, got null'],
    ['message_id', '', 'must not be empty'],
    ['cohort_name', ['a'], 'must be a string, got an array'],
    ['in_cohort', 'true', 'must be a boolean, got a string'],
    ['in_cohort', 1, 'must be a boolean, got a number'],
  ])('rejects %s = %j', (key, value, message) => {
    expect(issuesOf(() => parseBody(body({ [key]: value })))).toEqual([{ path: key, message }]);
  });

  it('accepts an empty cohort_name', () => {
    expect(parseBody(body({ cohort_name: '' })).cohortName).toBe('');
  });

  it('ignores unknown top-level keys', () => {
    const batch = parseBody(body({ sync_id: 'abc', extra: { nested: [1, 2] } }));
    expect(Object.keys(batch).sort()).toEqual(
      ['cohortId', 'cohortName', 'computedTime', 'inCohort', 'messageId', 'users'].sort(),
    );
  });

  it('maps every envelope field into the batch', () => {
    expect(parseBody(body({ in_cohort: false, users: [] }))).toStrictEqual({
      cohortId: 'q3k9xw1',
      cohortName: 'Trial ending soon',
      inCohort: false,
      computedTime: 1692206763,
      messageId: 'run-1::enter::1',
      users: [],
    });
  });

  it('accepts an empty users array as a valid batch of zero users', () => {
    expect(parseUsers([])).toEqual([]);
  });

  it.each([
    [{}, 'must be an array, got an object'],
    ['user-1', 'must be an array, got a string'],
    [null, 'must be an array, got null'],
  ])('rejects users = %j', (users, message) => {
    expect(issuesOf(() => parseBody(body({ users })))).toEqual([{ path: 'users', message }]);
  });

  it('lists envelope and user issues together', () => {
    expect(issuesOf(() => parseBody(body({ cohort_id: 7, users: [{}] })))).toEqual([
      { path: 'cohort_id', message: 'must be a non-empty string, got a number' },
      { path: 'users.0.user_id', message: 'is required' },
    ]);
  });
});

describe('the default shape: users', () => {
  it('reads user ids and properties in order', () => {
    expect(parseUsers([{ user_id: 'a', user_properties: { plan: 'pro' } }, { user_id: 'b' }])).toStrictEqual([
      { userId: 'a', properties: { plan: 'pro' } },
      { userId: 'b' },
    ]);
  });

  it('omits the properties key when user_properties is absent (the user-ids-only template)', () => {
    const [user] = parseUsers([{ user_id: 'a' }]);
    expect(user).toStrictEqual({ userId: 'a' });
    expect(Object.hasOwn(user ?? {}, 'properties')).toBe(false);
  });

  it('treats user_properties null as no properties', () => {
    const [user] = parseUsers([{ user_id: 'a', user_properties: null }]);
    expect(Object.hasOwn(user ?? {}, 'properties')).toBe(false);
  });

  it('keeps user_properties by reference, including an empty object', () => {
    const properties = {};
    expect(parseUsers([{ user_id: 'a', user_properties: properties }])[0]?.properties).toBe(properties);
  });

  it('accepts a numeric user_id that is a safe integer and converts it to a string', () => {
    expect(parseUsers([{ user_id: 12345 }, { user_id: 0 }])).toStrictEqual([
      { userId: '12345' },
      { userId: '0' },
    ]);
  });

  it.each([2 ** 53, 1.5])(
    'rejects the numeric user_id %s, which JSON cannot carry exactly as an id',
    (userId) => {
      expect(issuesOfUsers([{ user_id: userId }])).toEqual([
        {
          path: 'users.0.user_id',
          message: `must be a string; the number ${userId} is not a safe integer, so JSON.parse has already changed it (quote user_id in the template)`,
        },
      ]);
    },
  );

  it('rejects a user without user_id at its path', () => {
    expect(issuesOfUsers([{ user_id: 'a' }, { user_properties: {} }])).toEqual([
      { path: 'users.1.user_id', message: 'is required' },
    ]);
  });

  it.each([
    ['', 'must not be empty'],
    [null, 'must be a non-empty string, got null'],
    [true, 'must be a non-empty string, got a boolean'],
    [{ id: 'a' }, 'must be a non-empty string, got an object'],
  ])('rejects user_id = %j', (userId, message) => {
    expect(issuesOfUsers([{ user_id: userId }])).toEqual([{ path: 'users.0.user_id', message }]);
  });

  it.each([
    ['user-1', 'must be an object, got a string'],
    [null, 'must be an object, got null'],
    [['user-1'], 'must be an object, got an array'],
  ])('rejects the user %j, which is not an object', (user, message) => {
    expect(issuesOfUsers([user])).toEqual([{ path: 'users.0', message }]);
  });

  it.each([
    [['plan', 'pro'], 'must be an object (or null), got an array'],
    ['plan=pro', 'must be an object (or null), got a string'],
    [3, 'must be an object (or null), got a number'],
  ])('rejects user_properties = %j', (userProperties, message) => {
    expect(issuesOfUsers([{ user_id: 'a', user_properties: userProperties }])).toEqual([
      { path: 'users.0.user_properties', message },
    ]);
  });

  it('keeps a __proto__ property as plain data and never touches a prototype', () => {
    const rawBody = JSON.stringify(body()).replace('{"plan":"trial"}', '{"__proto__":{"polluted":true}}');
    const [user] = parse(JSON.parse(rawBody), rawBody, receivedAtMs).users;
    expect(Object.hasOwn(user?.properties ?? {}, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(user?.properties)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not read a user_id hidden under a __proto__ key', () => {
    const json = JSON.parse('{"__proto__":{"user_id":"intruder"}}');
    expect(issuesOfUsers([json])).toEqual([{ path: 'users.0.user_id', message: 'is required' }]);
  });

  it('accepts 5 MB property values and nesting up to maxPropertyDepth unchanged', () => {
    // user_properties is level 1, so 31 more levels of arrays make exactly the default 32.
    const nested = JSON.parse(`${'['.repeat(31)}${']'.repeat(31)}`);
    const long = 'x'.repeat(5_000_000);
    const json = body({ users: [{ user_id: 'a', user_properties: { nested, long } }] });
    const [user] = parse(json, '(not needed for this shape)', receivedAtMs).users;
    expect(user?.properties?.long).toBe(long);
    expect(user?.properties?.nested).toBe(nested);
  });

  it('rejects nesting past maxPropertyDepth, which JSON.stringify could not store (50,000 levels)', () => {
    for (const depth of [32, 50_000]) {
      const nested = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
      const json = body({ users: [{ user_id: 'a', user_properties: { nested } }] });
      expect(issuesOf(() => parse(json, '(not needed for this shape)', receivedAtMs))).toEqual([
        {
          path: 'users.0.user_properties',
          message: 'must nest at most 32 levels deep (objects and arrays inside user_properties)',
        },
      ]);
    }
  });

  it('caps the issue list at 20 and says it stopped, even for 100,000 bad users', () => {
    const issues = issuesOfUsers(Array.from({ length: 100_000 }, () => ({ user_id: 7.5 })));
    expect(issues).toHaveLength(21);
    expect(issues[19]?.path).toBe('users.19.user_id');
    expect(issues[20]).toEqual({ path: '', message: 'stopped checking after 20 issues; there may be more' });
  });
});

describe('the default shape: limits', () => {
  const limited = createBatchParser({ maxUsers: 2, maxUserIdLength: 5, maxProperties: 2, maxIdLength: 8 });
  const parseLimited = (json: unknown) => limited(json, '', receivedAtMs);
  /** A body whose ids fit maxIdLength, so each test sees only the limit it is about. */
  const shortBody = (overrides: Record<string, unknown>) =>
    body({ cohort_id: 'c', message_id: 'm', cohort_name: 'n', ...overrides });

  it('rejects more users than maxUsers, before looking at any of them', () => {
    expect(issuesOf(() => parseLimited(shortBody({ users: [{}, {}, {}] })))).toEqual([
      { path: 'users', message: 'must hold at most 2 users, got 3' },
    ]);
  });

  it('rejects more than 100,000 users by default', () => {
    const user = { user_id: 'a' };
    expect(issuesOfUsers(Array.from({ length: 100_001 }, () => user))).toEqual([
      { path: 'users', message: 'must hold at most 100000 users, got 100001' },
    ]);
  });

  it('rejects a user_id longer than maxUserIdLength', () => {
    expect(issuesOf(() => parseLimited(shortBody({ users: [{ user_id: 'abcdef' }] })))).toEqual([
      { path: 'users.0.user_id', message: 'must be at most 5 characters, got 6' },
    ]);
  });

  it('rejects more user_properties than maxProperties', () => {
    const users = [{ user_id: 'a', user_properties: { one: 1, two: 2, three: 3 } }];
    expect(issuesOf(() => parseLimited(shortBody({ users })))).toEqual([
      { path: 'users.0.user_properties', message: 'must hold at most 2 properties' },
    ]);
  });

  it.each(['cohort_id', 'message_id', 'cohort_name'])('rejects a %s longer than maxIdLength', (key) => {
    const json = shortBody({ users: [], [key]: '123456789' });
    expect(issuesOf(() => parseLimited(json))).toEqual([
      { path: key, message: 'must be at most 8 characters' },
    ]);
  });

  it('accepts a batch exactly at every limit', () => {
    const users = [
      { user_id: 'abcde', user_properties: { one: 1, two: 2 } },
      { user_id: 12345, user_properties: {} },
    ];
    const json = body({ cohort_id: '12345678', message_id: '12345678', cohort_name: '12345678', users });
    expect(parseLimited(json).users).toHaveLength(2);
  });
});
