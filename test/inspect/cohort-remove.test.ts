/** Removing a cohort from the inspector: a confirm page that changes nothing, then one logged POST. */
import { describe, expect, it } from 'vitest';
import { createInspectorHarness, textOf } from './harness.ts';

async function withCohorts() {
  const h = createInspectorHarness();
  const { cookie } = await h.login();
  await h.store.applyBatch(h.batch({ cohortId: 'sim-<b>1</b>', cohortName: 'Simulated <i>run</i>' }));
  await h.store.applyBatch(h.batch({ cohortId: 'kept', cohortName: 'Kept' }));
  return { ...h, cookie };
}

const cohortIds = async (h: Awaited<ReturnType<typeof withCohorts>>) =>
  (await h.store.listCohorts()).map((cohort) => cohort.cohortId);

describe('removing a cohort from the inspector', () => {
  it('confirms first, escaping the names, then removes only that cohort and logs who did it', async () => {
    const h = await withCohorts();
    const confirm = await textOf(
      await h.request(`/inspect/cohort/remove?id=${encodeURIComponent('sim-<b>1</b>')}`, {
        cookie: h.cookie,
      }),
    );
    expect(confirm).toContain('Simulated &lt;i&gt;run&lt;/i&gt;');
    expect(confirm).toContain('<b>2 members</b>');
    expect(confirm).toContain('<input type="hidden" name="id" value="sim-&lt;b&gt;1&lt;/b&gt;"');
    expect(confirm).not.toContain('<i>run</i>');
    // The confirm page changed nothing.
    expect(await cohortIds(h)).toEqual(['kept', 'sim-<b>1</b>']);

    const done = await textOf(
      await h.post('/inspect/cohort/remove', { id: 'sim-<b>1</b>' }, { cookie: h.cookie }),
    );
    expect(done).toContain('Removed the cohort <code>sim-&lt;b&gt;1&lt;/b&gt;</code>');
    expect(await cohortIds(h)).toEqual(['kept']);
    expect(await h.store.userCohorts('u1')).toEqual([expect.objectContaining({ cohortId: 'kept' })]);
    expect(h.logLines).toContainEqual(
      expect.objectContaining({
        msg: 'inspector action',
        action: 'remove_cohort',
        cohort_id: 'sim-<b>1</b>',
        removed: true,
        who: expect.stringMatching(/^[0-9a-f]{8}$/),
      }),
    );
  });

  it('answers 404 for a cohort the store does not hold, on the confirm page and the POST', async () => {
    const h = await withCohorts();
    const confirm = await h.request('/inspect/cohort/remove?id=nope', { cookie: h.cookie });
    expect(confirm.status).toBe(404);
    expect(await confirm.text()).not.toContain('confirm-form');
    const posted = await h.post('/inspect/cohort/remove', { id: 'nope' }, { cookie: h.cookie });
    expect(posted.status).toBe(404);
    expect(await cohortIds(h)).toEqual(['kept', 'sim-<b>1</b>']);
  });

  it('removes nothing without a session, or from another site', async () => {
    const h = await withCohorts();
    const anonymous = await h.post('/inspect/cohort/remove', { id: 'kept' });
    expect(anonymous.status).not.toBe(200);
    const crossSite = await h.post(
      '/inspect/cohort/remove',
      { id: 'kept' },
      { cookie: h.cookie, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.test' } },
    );
    expect(crossSite.status).toBe(403);
    expect(await cohortIds(h)).toEqual(['kept', 'sim-<b>1</b>']);
  });

  it('says so on a process without a store', async () => {
    const h = createInspectorHarness({ store: undefined });
    const { cookie } = await h.login();
    const page = await h.request('/inspect/cohort/remove?id=kept', { cookie });
    expect(page.status).toBe(409);
    expect(await page.text()).toContain('This process has no store');
  });
});
