import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PayloadError, type PayloadIssue } from '../../src/core/errors.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';

const receivedAtMs = 1_700_000_123_999;
const flagKey = 'amplitude_Trial ending soon_q3k9xw1';

function issuesOf(run: () => unknown): PayloadIssue[] {
  try {
    run();
  } catch (error) {
    if (error instanceof PayloadError) return error.issues;
    throw error;
  }
  throw new Error('expected a PayloadError, but the body was accepted');
}

const parse = createBatchParser();
/** Parses the list the way the route does: from its raw text. */
const parseList = (entries: unknown[], rawBody = JSON.stringify(entries)) =>
  parse(JSON.parse(rawBody), rawBody, receivedAtMs);
const issuesOfList = (entries: unknown[]) => issuesOf(() => parseList(entries));

describe('the per-user flag list', () => {
  it('normalises a list of adds into one batch for the cohort its key names', () => {
    const rawBody = JSON.stringify([
      { user_id: 'user-1', [flagKey]: true },
      { user_id: 'user-2', [flagKey]: true },
    ]);
    expect(parseList([], rawBody)).toStrictEqual({
      cohortId: 'q3k9xw1',
      cohortName: 'Trial ending soon',
      inCohort: true,
      computedTime: 1_700_000_123,
      messageId: `sha256:${createHash('sha256').update(rawBody).digest('hex')}`,
      users: [{ userId: 'user-1' }, { userId: 'user-2' }],
    });
  });

  it('reads a list of false flags as a removal batch', () => {
    expect(parseList([{ user_id: 'user-1', [flagKey]: false }]).inCohort).toBe(false);
  });

  it('uses the receive time, in whole seconds, as computedTime', () => {
    const rawBody = JSON.stringify([{ user_id: 'u', [flagKey]: true }]);
    expect(parse(JSON.parse(rawBody), rawBody, 1_692_206_763_999).computedTime).toBe(1_692_206_763);
  });

  it('gives different bytes a different message id, even when they mean the same', () => {
    const compact = JSON.stringify([{ user_id: 'u', [flagKey]: true }]);
    const spaced = JSON.stringify([{ user_id: 'u', [flagKey]: true }], null, 2);
    expect(parseList([], compact).messageId).not.toBe(parseList([], spaced).messageId);
  });

  it('takes the cohort id after the LAST underscore, so names may hold underscores and spaces', () => {
    const batch = parseList([{ user_id: 'u', 'amplitude_Trial_ending soon_v2_abc123': true }]);
    expect(batch).toMatchObject({ cohortName: 'Trial_ending soon_v2', cohortId: 'abc123' });
  });

  it('accepts an empty cohort name', () => {
    expect(parseList([{ user_id: 'u', amplitude__abc123: true }])).toMatchObject({
      cohortName: '',
      cohortId: 'abc123',
    });
  });

  it('ignores keys other than user_id and the cohort key', () => {
    expect(parseList([{ user_id: 'u', [flagKey]: true, email: 'u@example.com' }]).users).toStrictEqual([
      { userId: 'u' },
    ]);
  });

  it('accepts a numeric user_id that is a safe integer and converts it to a string', () => {
    expect(parseList([{ user_id: 42, [flagKey]: true }]).users).toStrictEqual([{ userId: '42' }]);
  });

  it('rejects an empty list, which names no cohort', () => {
    expect(issuesOfList([])).toEqual([
      {
        path: '',
        message: 'the per-user flag list is empty, so it names no cohort; send at least one entry',
      },
    ]);
  });

  it('rejects entries naming different cohorts, since one message carries one cohort', () => {
    const other = 'amplitude_Churn risk_zz9';
    expect(
      issuesOfList([
        { user_id: 'a', [flagKey]: true },
        { user_id: 'b', [other]: true },
      ]),
    ).toEqual([
      {
        path: '1',
        message: `names "${other}" but entry 0 names "${flagKey}"; one message must carry one cohort`,
      },
    ]);
  });

  it('rejects entries mixing adds and removes, since one message carries one direction', () => {
    expect(
      issuesOfList([
        { user_id: 'a', [flagKey]: true },
        { user_id: 'b', [flagKey]: false },
      ]),
    ).toEqual([
      {
        path: `1.${flagKey}`,
        message:
          'is false but entry 0 is true; one message must carry one direction (all adds or all removes)',
      },
    ]);
  });

  it('rejects an entry without a cohort key', () => {
    expect(issuesOfList([{ user_id: 'a', in_cohort: true }])).toEqual([
      { path: '0', message: 'has no "amplitude_<cohort name>_<cohort id>" key' },
    ]);
  });

  it('rejects an entry with two cohort keys', () => {
    expect(issuesOfList([{ user_id: 'a', [flagKey]: true, amplitude_Other_x1: true }])).toEqual([
      { path: '0', message: `has two cohort keys, "${flagKey}" and "amplitude_Other_x1"; expected one` },
    ]);
  });

  it.each([
    ['true', 'must be true or false, got a string'],
    [1, 'must be true or false, got a number'],
    [null, 'must be true or false, got null'],
  ])('rejects the flag value %j', (flag, message) => {
    expect(issuesOfList([{ user_id: 'a', [flagKey]: flag }])).toEqual([{ path: `0.${flagKey}`, message }]);
  });

  it.each(['amplitude_abc', 'amplitude_Trial_'])(
    'rejects the cohort key %j, which has no cohort id',
    (key) => {
      expect(issuesOfList([{ user_id: 'a', [key]: true }])).toEqual([
        {
          path: `0.${key}`,
          message:
            'key must look like "amplitude_<cohort name>_<cohort id>", with a non-empty cohort id after the last "_"',
        },
      ]);
    },
  );

  it('rejects an entry without user_id at its path', () => {
    expect(issuesOfList([{ user_id: 'a', [flagKey]: true }, { [flagKey]: true }])).toEqual([
      { path: '1.user_id', message: 'is required' },
    ]);
  });

  it.each([
    ['user-1', 'must be an object, got a string'],
    [null, 'must be an object, got null'],
    [[flagKey], 'must be an object, got an array'],
  ])('rejects the entry %j, which is not an object', (entry, message) => {
    expect(issuesOfList([entry])).toEqual([{ path: '0', message }]);
  });

  it('caps the issue list at 20 and says it stopped', () => {
    const issues = issuesOfList(Array.from({ length: 1000 }, () => ({ user_id: '' })));
    expect(issues).toHaveLength(21);
    expect(issues[20]).toEqual({ path: '', message: 'stopped checking after 20 issues; there may be more' });
  });
});

describe('the per-user flag list: limits', () => {
  const limited = createBatchParser({ maxUsers: 2, maxUserIdLength: 3, maxIdLength: 4 });
  const parseLimited = (entries: unknown[]) => limited(entries, JSON.stringify(entries), receivedAtMs);
  const key = 'amplitude_name_id';

  it('rejects more entries than maxUsers', () => {
    const entries = [1, 2, 3].map((n) => ({ user_id: `u${n}`, [key]: true }));
    expect(issuesOf(() => parseLimited(entries))).toEqual([
      { path: '', message: 'must hold at most 2 users, got 3' },
    ]);
  });

  it('rejects a user_id longer than maxUserIdLength', () => {
    expect(issuesOf(() => parseLimited([{ user_id: 'abcd', [key]: true }]))).toEqual([
      { path: '0.user_id', message: 'must be at most 3 characters, got 4' },
    ]);
  });

  it.each([
    ['amplitude_n_abcde', "key's cohort id must be at most 4 characters"],
    ['amplitude_names_id', "key's cohort name must be at most 4 characters"],
  ])('rejects the cohort key %j whose parts exceed maxIdLength', (longKey, message) => {
    expect(issuesOf(() => parseLimited([{ user_id: 'a', [longKey]: true }]))).toEqual([
      { path: `0.${longKey}`, message },
    ]);
  });

  it('rejects a cohort key too long to be valid without echoing it into the path', () => {
    const hugeKey = `amplitude_${'x'.repeat(100_000)}_id`;
    expect(issuesOf(() => parseLimited([{ user_id: 'a', [hugeKey]: true }]))).toEqual([
      { path: '0', message: 'has a cohort key of 100013 characters, longer than any valid one' },
    ]);
  });

  it('accepts a list exactly at every limit', () => {
    const entries = [
      { user_id: 'abc', amplitude_name_abcd: false },
      { user_id: 123, amplitude_name_abcd: false },
    ];
    expect(parseLimited(entries)).toMatchObject({ cohortName: 'name', cohortId: 'abcd', inCohort: false });
  });
});
