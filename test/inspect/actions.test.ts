import { describe, expect, it } from 'vitest';
import { createInspectorHarness, textOf } from './harness.ts';

const validBody = (messageId: string, userId: string) =>
  JSON.stringify({
    cohort_id: 'fixed',
    cohort_name: 'Fixed',
    in_cohort: true,
    computed_time: 5,
    message_id: messageId,
    users: [{ user_id: userId }],
  });

async function withFailedLetters(count: number, options: Parameters<typeof createInspectorHarness>[0] = {}) {
  const h = createInspectorHarness(options);
  const { cookie } = await h.login();
  for (let i = 0; i < count; i += 1) {
    const batch = h.batch({
      cohortId: i % 2 === 0 ? 'even' : 'odd',
      users: [{ userId: `u${i}` }],
      messageId: `f-${i}`,
    });
    await h.deadLetters.add({
      kind: 'failed',
      reason: 'Error: store down (after 5 attempts)',
      body: JSON.stringify(batch),
      messageId: batch.messageId,
    });
  }
  return { ...h, cookie };
}

const hiddenIds = (html: string) =>
  [...html.matchAll(/<input type="hidden" name="id" value="([^"]+)"/g)].map((m) => m[1] as string);

describe('actions: confirm first, then one POST', () => {
  it('replays one letter only after its confirm page, and logs who did it', async () => {
    const h = await withFailedLetters(1);
    const [letter] = await h.deadLetters.list();
    const confirm = await textOf(
      await h.request(`/inspect/letters/${letter?.id}/replay`, { cookie: h.cookie }),
    );
    expect(confirm).toContain('This will replay <b>1</b> letter.');
    // The confirm page changed nothing.
    expect(await h.deadLetters.list()).toHaveLength(1);
    expect(await h.store.userCohorts('u0')).toEqual([]);
    const result = await textOf(
      await h.post('/inspect/letters/bulk/replay', { id: hiddenIds(confirm) }, { cookie: h.cookie }),
    );
    expect(result).toContain('applied (1 change)');
    expect(await h.deadLetters.list()).toHaveLength(0);
    expect(await h.store.userCohorts('u0')).toEqual([expect.objectContaining({ cohortId: 'even' })]);
    expect(h.logLines).toContainEqual(
      expect.objectContaining({
        msg: 'inspector action',
        action: 'replay',
        letters: 1,
        done: 1,
        who: expect.stringMatching(/^[0-9a-f]{8}$/),
      }),
    );
  });

  it('drops one letter after its confirm page', async () => {
    const h = await withFailedLetters(2);
    const [letter] = await h.deadLetters.list();
    const confirm = await textOf(
      await h.request(`/inspect/letters/${letter?.id}/drop`, { cookie: h.cookie }),
    );
    expect(confirm).toContain('This will drop <b>1</b> letter.');
    expect(hiddenIds(confirm)).toEqual([letter?.id]);
    await textOf(
      await h.post('/inspect/letters/bulk/drop', { id: hiddenIds(confirm) }, { cookie: h.cookie }),
    );
    expect((await h.deadLetters.list()).map((kept) => kept.id)).not.toContain(letter?.id);
    expect(await h.deadLetters.list()).toHaveLength(1);
  });

  it('previews a by-filter replay with how many match, takes at most the cap, and replays exactly those', async () => {
    const h = await withFailedLetters(9, { bulkCap: 3 });
    const preview = await textOf(
      await h.request('/inspect/letters/bulk?action=replay&kind=failed&cohort=even&reason=store+down', {
        cookie: h.cookie,
      }),
    );
    // 5 "even" letters match; the cap takes the newest 3.
    expect(preview).toContain(
      'This will replay <b>3</b> letters (5 match the filter; at most 3 are taken at a time, newest first).',
    );
    const ids = hiddenIds(preview);
    expect(ids).toHaveLength(3);
    expect(await h.deadLetters.list()).toHaveLength(9);
    const result = await textOf(
      await h.post('/inspect/letters/bulk/replay', { id: ids }, { cookie: h.cookie }),
    );
    expect(result).toContain('Replayed 3 of 3');
    const left = await h.deadLetters.list();
    expect(left).toHaveLength(6);
    expect(left.map((letter) => letter.messageId)).toEqual(['f-7', 'f-5', 'f-3', 'f-2', 'f-1', 'f-0']);
    for (const userId of ['u8', 'u6', 'u4']) expect(await h.store.userCohorts(userId)).toHaveLength(1);
    expect(await h.store.userCohorts('u2')).toEqual([]);
  });

  it('previews nothing to do when nothing matches', async () => {
    const h = await withFailedLetters(2);
    const preview = await textOf(
      await h.request('/inspect/letters/bulk?action=drop&cohort=none-such', { cookie: h.cookie }),
    );
    expect(preview).toContain('This will drop <b>0</b> letters (0 match the filter).');
    expect(preview).not.toContain('method="post" action="/inspect/letters/bulk/drop"');
  });

  it('refuses a POST naming more letters than the cap, and touches none', async () => {
    const h = await withFailedLetters(4, { bulkCap: 3 });
    const ids = (await h.deadLetters.list()).map((letter) => letter.id);
    const response = await h.post(
      '/inspect/letters/bulk/drop',
      { id: ids },
      { cookie: h.cookie, headers: { accept: '*/*' } },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'over_cap' });
    expect(await h.deadLetters.list()).toHaveLength(4);
  });

  it('replays a quarantined body that now parses: accepted into the queue, dropped from the quarantine', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_payload: users: too many',
      body: validBody('q-1', 'qu'),
    });
    await h.deadLetters.add({
      kind: 'rejected',
      reason: 'invalid_json: Unexpected end',
      body: '{"cohort_id":',
    });
    const preview = await textOf(
      await h.request('/inspect/letters/bulk?action=replay&kind=rejected', { cookie }),
    );
    const result = await textOf(
      await h.post('/inspect/letters/bulk/replay', { id: hiddenIds(preview) }, { cookie }),
    );
    expect(result).toContain('applied (1 change)');
    expect(result).toContain('still_rejected: invalid_json');
    expect(await h.store.userCohorts('qu')).toHaveLength(1);
    expect((await h.deadLetters.list()).map((letter) => letter.reason)).toEqual([
      'invalid_json: Unexpected end',
    ]);
  });

  it('shows no replay where it cannot run, and refuses one with 409', async () => {
    const h = await withFailedLetters(1, {
      replay: undefined,
      replayBlocked: 'QUEUE=memory with STORE=memory: nothing outside the receiver',
    });
    const [letter] = await h.deadLetters.list();
    const page = await textOf(await h.request(`/inspect/letters/${letter?.id}`, { cookie: h.cookie }));
    expect(page).toContain('Replay is not possible here: QUEUE=memory with STORE=memory');
    const response = await h.post(
      '/inspect/letters/bulk/replay',
      { id: letter?.id ?? '' },
      { cookie: h.cookie, headers: { accept: '*/*' } },
    );
    expect(response.status).toBe(409);
    expect(await h.deadLetters.list()).toHaveLength(1);
  });

  it('reports a letter gone between confirm and POST', async () => {
    const h = await withFailedLetters(1);
    const [letter] = await h.deadLetters.list();
    await h.deadLetters.drop(letter?.id ?? '');
    const result = await textOf(
      await h.post('/inspect/letters/bulk/drop', { id: letter?.id ?? '' }, { cookie: h.cookie }),
    );
    expect(result).toContain('gone (replayed or dropped already)');
  });
});
