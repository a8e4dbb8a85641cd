import { describe, expect, it } from 'vitest';
import { createInspectorHarness, textOf } from './harness.ts';

const hostile = `<script>alert("x")</script>' onmouseover='alert(1)\u2028"><img src=x onerror=alert(2)>`;
const escaped =
  '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;alert(1)\u2028&quot;&gt;&lt;img src=x onerror=alert(2)&gt;';

/** Every tag in the page is one the inspector itself writes. */
function tagsOf(html: string): Set<string> {
  return new Set([...html.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]?.toLowerCase() ?? ''));
}
const ownTags = new Set([
  'html',
  'head',
  'meta',
  'title',
  'link',
  'body',
  'header',
  'strong',
  'nav',
  'a',
  'form',
  'button',
  'main',
  'h1',
  'h2',
  'p',
  'span',
  'div',
  'b',
  'dl',
  'dt',
  'dd',
  'code',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'label',
  'input',
  'select',
  'option',
  'pre',
  'script',
  'ul',
  'li',
]);

function expectSafe(html: string) {
  expect(html).not.toContain('<script>alert');
  expect(html).not.toContain('<img');
  expect(html).not.toContain("' onmouseover='");
  for (const tag of tagsOf(html)) expect(ownTags).toContain(tag);
  // The one script is the inspector's own, with a nonce.
  expect(html.match(/<script(?! nonce=")/g)).toBeNull();
}

describe('escaping outside values', () => {
  it('escapes a hostile cohort name, cohort id and user id everywhere they show', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const get = (path: string) => h.request(path, { cookie });
    await h.store.applyBatch(
      h.batch({
        cohortId: hostile,
        cohortName: hostile,
        users: [{ userId: hostile, properties: { note: hostile } }],
        messageId: hostile,
      }),
    );
    h.deliveryLog.recordReceipt(
      h.receipt({ messageId: hostile, cohortId: hostile, cohortName: hostile, receiver: hostile }),
    );
    h.deliveryLog.recordApplied({
      messageId: hostile,
      appliedAt: h.now(),
      lagMs: 1,
      entered: 1,
      left: 0,
      unchanged: 0,
      sinks: [{ name: hostile, delivered: 0, failed: 1, error: hostile }],
      worker: hostile,
    });
    await h.deliveryLog.flush();
    const q = encodeURIComponent(hostile);
    for (const path of [
      '/inspect/cohorts',
      `/inspect/cohort?id=${q}`,
      `/inspect/users?user_id=${q}`,
      '/inspect/deliveries',
      `/inspect/delivery?message_id=${q}`,
      `/inspect/deliveries?cohort=${q}`,
    ]) {
      const html = await textOf(await get(path));
      expect(html, path).toContain(escaped);
      expectSafe(html);
    }
    // Links carry outside values percent-encoded, so they cannot end the attribute or change the path.
    const cohorts = await textOf(await get('/inspect/cohorts'));
    expect(cohorts).toContain(`href="/inspect/cohort?id=${q.replaceAll("'", '&#39;')}"`);
  });

  it('shows a hostile rejected body as text, never as HTML, and keeps its bytes for download', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const body = `{"cohort_id":"</pre><script>alert(1)</script>","x":"\u2028\u2029"}`;
    await h.deadLetters.add({ kind: 'rejected', reason: `invalid_payload: ${hostile}: is bad`, body });
    const [letter] = await h.deadLetters.list();
    const page = await textOf(await h.request(`/inspect/letters/${letter?.id}`, { cookie }));
    expectSafe(page);
    expect(page).toContain(
      '<pre id="body" class="body">{\n  &quot;cohort_id&quot;: &quot;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;,\n  &quot;x&quot;: &quot;\u2028\u2029&quot;\n}</pre>',
    );
    expectSafe(await textOf(await h.request('/inspect/quarantine', { cookie })));
    expectSafe(await textOf(await h.request(`/inspect/letters/${letter?.id}/replay`, { cookie })));
    const download = await h.request(`/inspect/letters/${letter?.id}/body`, { cookie });
    expect(await download.text()).toBe(body);
  });

  it('escapes what a rejected body says of itself (its message_id and cohort) on the deliveries list', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    const body = JSON.stringify({ cohort_id: hostile, cohort_name: hostile, message_id: hostile });
    const quarantineId = await h.deadLetters.add({ kind: 'rejected', reason: 'invalid_payload: x', body });
    const {
      cohortId: _id,
      cohortName: _name,
      ...receipt
    } = h.receipt({
      messageId: null,
      outcome: 'rejected',
      status: 422,
      quarantineId,
    });
    h.deliveryLog.recordReceipt(receipt);
    await h.deliveryLog.flush();
    const page = await textOf(await h.request('/inspect/deliveries', { cookie }));
    expectSafe(page);
    expect(page).toContain(`<a href="/inspect/letters/${quarantineId}">${escaped}</a>`);
    expect(page).toContain(`${escaped} (${escaped})`);
  });

  it('sends hostile values through the live tail as JSON the script puts in with textContent', async () => {
    const h = createInspectorHarness();
    const { cookie } = await h.login();
    h.deliveryLog.recordReceipt(h.receipt({ messageId: hostile, cohortName: hostile }));
    await h.deliveryLog.flush();
    const controller = new AbortController();
    const response = await h.request('/inspect/deliveries/live', { cookie, signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    controller.abort();
    const text = new TextDecoder().decode(value);
    const data = /^data: (.*)$/m.exec(text)?.[1] ?? '';
    // One data line even for readers that split on U+2028 (a JS regex's `$` does), and JSON.parse
    // gives the text back unchanged.
    expect(text).not.toMatch(/[\u2028\u2029]/);
    const row = JSON.parse(data) as { cells: { text: string; href?: string }[] };
    expect(row.cells.map((cell) => cell.text)).toContain(hostile);
    expect(row.cells.find((cell) => cell.text === hostile && cell.href)?.href).toBe(
      `/inspect/delivery?message_id=${encodeURIComponent(hostile)}`,
    );
    const page = await textOf(await h.request('/inspect/deliveries', { cookie }));
    expect(page).toContain('textContent');
    expect(page).not.toContain('innerHTML');
  });
});
