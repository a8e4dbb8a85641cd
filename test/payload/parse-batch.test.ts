import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CohortBatch } from '../../src/core/batch.ts';
import { PayloadError, type PayloadIssue } from '../../src/core/errors.ts';
import { createBatchParser, defaultPayloadLimits } from '../../src/core/payload/parse-batch.ts';
import { readRenderedFixture as readFixture, renderedDirectory } from '../fixtures/rendered-fixtures.ts';

const receivedAtMs = 1_700_000_000_987;

function issuesOf(run: () => unknown): PayloadIssue[] {
  try {
    run();
  } catch (error) {
    if (error instanceof PayloadError) return error.issues;
    throw error;
  }
  throw new Error('expected a PayloadError, but the body was accepted');
}

const trialEndingSoon = { cohortId: 'q3k9xw1', cohortName: 'Trial ending soon' };
const addBatch: CohortBatch = {
  ...trialEndingSoon,
  inCohort: true,
  computedTime: 1692206763,
  messageId: '0b6f3f0e-5c1a-4d7e-9a61-1f2b3c4d5e6f',
  users: [
    { userId: 'user-1001', properties: { plan: 'trial', sessions: 17, beta: false, country: 'US' } },
    { userId: 'user-1002', properties: { plan: 'trial', sessions: 4, beta: true, country: 'FR' } },
    { userId: 'user-1003', properties: { plan: 'pro', sessions: 250, beta: false, country: 'JP' } },
  ],
};
const removeBatch: CohortBatch = {
  ...trialEndingSoon,
  inCohort: false,
  computedTime: 1692210363,
  messageId: '7d2a9c44-0e8b-4f3a-b1c2-9e8d7c6b5a43',
  users: [{ userId: 'user-1002', properties: { plan: 'pro', sessions: 9, beta: true, country: 'FR' } }],
};
const idsOnly = (batch: CohortBatch): CohortBatch => ({
  ...batch,
  users: batch.users.map(({ userId }) => ({ userId })),
});

/** What each rendered body must normalise into; the flag list's id is pinned from `sha256sum`. */
const expectedByFixture: Record<string, CohortBatch> = {
  'input.add.json': addBatch,
  'input.remove.json': removeBatch,
  'with-properties.add.json': addBatch,
  'with-properties.remove.json': removeBatch,
  'user-ids-only.add.json': idsOnly(addBatch),
  'per-user-flags.add.json': {
    ...idsOnly(addBatch),
    computedTime: 1_700_000_000,
    messageId: 'sha256:6cf240de89ef036802f1b71eacaa2d3c35cab07e3429afb4c55c2e73ad2df972',
  },
};

describe('rendered fixtures', () => {
  const parse = createBatchParser();

  it('has an expected batch for every fixture in the folder', () => {
    expect(readdirSync(renderedDirectory).sort()).toEqual(Object.keys(expectedByFixture).sort());
  });

  it.each(Object.entries(expectedByFixture))('normalises %s into the expected batch', (name, expected) => {
    const rawBody = readFixture(name);
    expect(parse(JSON.parse(rawBody), rawBody, receivedAtMs)).toStrictEqual(expected);
  });

  it('gives the flag list the same message id each time the same bytes arrive', () => {
    const rawBody = readFixture('per-user-flags.add.json');
    const first = parse(JSON.parse(rawBody), rawBody, receivedAtMs);
    const retry = parse(JSON.parse(rawBody), rawBody, receivedAtMs + 60_000);
    expect(retry.messageId).toBe(first.messageId);
    expect(retry.computedTime).toBe(first.computedTime + 60);
  });
});

describe('createBatchParser', () => {
  it.each([
    ['null', null],
    ['a string', 'users'],
    ['a number', 42],
    ['a boolean', true],
  ])('rejects a top-level %s with a message naming both accepted shapes', (type, json) => {
    expect(issuesOf(() => createBatchParser()(json, JSON.stringify(json), receivedAtMs))).toEqual([
      {
        path: '',
        message: `expected a JSON object (Amplitude's default shape) or an array (the per-user flag list), got ${type}`,
      },
    ]);
  });

  it('throws a PayloadError whose message lists each path and message', () => {
    const parse = createBatchParser();
    expect(() => parse(null, 'null', receivedAtMs)).toThrow(PayloadError);
    expect(() => parse({ users: [] }, '{}', receivedAtMs)).toThrow(
      'cohort_id: is required; cohort_name: is required',
    );
  });

  it('uses the documented default limits', () => {
    expect(defaultPayloadLimits).toEqual({
      maxUsers: 100_000,
      maxUserIdLength: 1024,
      maxProperties: 200,
      maxIdLength: 1024,
      maxPropertyDepth: 32,
    });
  });

  it('keeps the defaults for the limits an override leaves out', () => {
    const parse = createBatchParser({ maxUsers: 5 });
    const body = (userId: string) => ({
      cohort_name: '',
      cohort_id: 'c1',
      in_cohort: true,
      computed_time: '1',
      message_id: 'm1',
      users: [{ user_id: userId }],
    });
    expect(parse(body('u'.repeat(1024)), '', receivedAtMs).users).toHaveLength(1);
    expect(issuesOf(() => parse(body('u'.repeat(1025)), '', receivedAtMs))[0]?.path).toBe('users.0.user_id');
  });

  it.each([
    ['maxUsers', 0, '`0` (number)'],
    ['maxProperties', 1.5, '`1.5` (number)'],
    ['maxIdLength', -1, '`-1` (number)'],
    ['maxUserIdLength', '10', '`10` (string)'],
  ])('rejects a %s of %j at construction', (name, value, shown) => {
    expect(() => createBatchParser({ [name]: value })).toThrow(
      new TypeError(`Expected \`${name}\` to be a positive integer, got ${shown}`),
    );
  });
});
