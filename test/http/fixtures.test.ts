import { describe, expect, it } from 'vitest';
import { readRenderedFixture } from '../fixtures/rendered-fixtures.ts';
import { createHarness } from './app-harness.ts';

// Bodies rendered from templates/ by the real FreeMarker engine (test/fixtures/render-fixtures.ts).
const fixture = readRenderedFixture;

type Members = { members: { user_id: string; since: number; user_properties: unknown }[] };
const members = async (harness: ReturnType<typeof createHarness>) =>
  ((await (await harness.app.request('/cohorts/q3k9xw1/members')).json()) as Members).members;

describe('rendered Amplitude fixtures', () => {
  it('applies the default shape add then remove: user-1002 leaves, the others keep their properties', async () => {
    const harness = createHarness();
    for (const name of ['with-properties.add.json', 'with-properties.remove.json']) {
      expect((await harness.post(fixture(name))).status, name).toBe(200);
    }
    await harness.settle();
    expect(await members(harness)).toEqual([
      {
        user_id: 'user-1001',
        since: 1692206763,
        user_properties: { plan: 'trial', sessions: 17, beta: false, country: 'US' },
      },
      {
        user_id: 'user-1003',
        since: 1692206763,
        user_properties: { plan: 'pro', sessions: 250, beta: false, country: 'JP' },
      },
    ]);
  });

  it('ends the same when the remove arrives before the add', async () => {
    const harness = createHarness();
    for (const name of ['input.remove.json', 'input.add.json']) await harness.post(fixture(name));
    await harness.settle();
    expect((await members(harness)).map((member) => member.user_id)).toEqual(['user-1001', 'user-1003']);
  });

  it('applies the user-ids-only shape with no properties', async () => {
    const harness = createHarness();
    expect((await harness.post(fixture('user-ids-only.add.json'))).status).toBe(200);
    await harness.settle();
    expect(await members(harness)).toEqual(
      ['user-1001', 'user-1002', 'user-1003'].map((user_id) => ({
        user_id,
        since: 1692206763,
        user_properties: null,
      })),
    );
  });

  it('applies the per-user flag list, and dedupes a resend of the same bytes', async () => {
    const harness = createHarness();
    const body = fixture('per-user-flags.add.json');
    const first = (await (await harness.post(body)).json()) as { status: string; message_id: string };
    expect(first.status).toBe('accepted');
    expect(first.message_id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await (await harness.post(body)).json()).toEqual({
      status: 'duplicate',
      message_id: first.message_id,
    });
    await harness.settle();
    const cohorts = (await (await harness.app.request('/cohorts')).json()) as { cohorts: unknown[] };
    expect(cohorts.cohorts).toEqual([
      expect.objectContaining({ cohort_id: 'q3k9xw1', cohort_name: 'Trial ending soon', members: 3 }),
    ]);
  });
});
