/**
 * The deliveries, dead letters and letter pages at 1280 px in Debian's chromium: what must stay on
 * one line does, a kept JSON body wraps at spaces, the login page has no navigation, and no page
 * asks for anything that fails (the favicon). The inspector is served by a real HTTP server.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium, launchBrowser, logIn, screenshot } from './browser.ts';
import { createInspectorHarness, token } from './harness.ts';

const receiver = 'cohort-receiver-7d9f8b6c5d-x2k4p-worker-pool-east-1-12345';
/** Long enough to wrap at 1280 px, so a rule that breaks anywhere would cut a word. */
const words = Array(5)
  .fill('the store refused this batch because the connection was reset while writing members')
  .join(' ');

let browser: Browser;
let page: Page;
let server: ReturnType<typeof serve>;
let url: string;
let letterId: string;
const failures: string[] = [];

/** The little of the DOM these checks use (the tests compile without the DOM library). */
interface Box {
  top: number;
}
interface TextRange {
  selectNodeContents(node: unknown): void;
  setStart(node: unknown, offset: number): void;
  setEnd(node: unknown, offset: number): void;
  getClientRects(): Iterable<Box>;
}
interface Shown {
  ownerDocument: { createRange(): TextRange };
  firstChild: { textContent: string | null } | null;
  scrollWidth: number;
  clientWidth: number;
}

/** How many lines the element's text takes (distinct tops of its text's line boxes). */
function countLines(element: Shown): number {
  const range = element.ownerDocument.createRange();
  range.selectNodeContents(element);
  return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
}
const linesOf = (selector: string) => page.locator(selector).evaluate(countLines as never) as Promise<number>;

/** The words of `sentence` in the element's text that its lines cut in two. */
function brokenWords(element: Shown, sentence: string): string[] {
  const text = element.firstChild;
  const broken: string[] = [];
  let from = (text?.textContent ?? '').indexOf(sentence);
  for (const word of sentence.split(' ')) {
    const range = element.ownerDocument.createRange();
    range.setStart(text, from);
    range.setEnd(text, from + word.length);
    if (new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size > 1) broken.push(word);
    from += word.length + 1;
  }
  return broken;
}

describeWithChromium('inspector views at 1280 px', () => {
  beforeAll(async () => {
    const h = createInspectorHarness();
    for (let n = 0; n < 5; n += 1) {
      const messageId = `7f9c2b1e-4a5d-4e3b-9c8a-00000000000${n}`;
      h.deliveryLog.recordReceipt(
        h.receipt({
          messageId,
          ackMs: 0.94,
          receiver,
          cohortName: 'Power users who bought twice in the last thirty days',
          users: 1200,
        }),
      );
      h.deliveryLog.recordApplied({
        messageId,
        appliedAt: h.now() + 900,
        lagMs: 900,
        entered: 1000,
        left: 150,
        updated: 30,
        unchanged: 20,
        sinks: [{ name: 'http', delivered: 0, failed: 1150, error: 'HTTP 503' }],
        worker: receiver,
      });
    }
    await h.deliveryLog.flush();
    const body = JSON.stringify({
      cohort_id: 'c1',
      note: words,
      token: 'x'.repeat(400),
      users: Array.from({ length: 3 }, (_, n) => ({ user_id: `user-${n}` })),
    });
    letterId = await h.deadLetters.add({ kind: 'failed', reason: 'Error: refused (after 1 attempt)', body });
    server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inspect`;
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('response', (response) => {
      if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('shows the login page with the product name and no navigation', async () => {
    await page.goto(`${url}/login`);
    expect(await page.locator('header strong').textContent()).toBe('cohort-receiver');
    expect(await page.locator('header nav').count()).toBe(0);
    await screenshot(page, 'layout-login');
    await logIn(page, `${url}/login`, token);
    expect(await page.locator('header nav').count()).toBe(1);
  });

  it('keeps timestamps, "0.9 ms" and the receiver on one line in the deliveries table', async () => {
    await page.goto(`${url}/deliveries`);
    const row = 'tbody#deliveries-body tr:first-child';
    expect(await linesOf(`${row} td:nth-child(1)`)).toBe(1);
    expect(await page.locator(`${row} td:nth-child(6)`).textContent()).toBe('0.9 ms');
    expect(await linesOf(`${row} td:nth-child(6)`)).toBe(1);
    expect(await linesOf(`${row} td:nth-child(9)`)).toBe(1);
    expect(await page.locator(`${row} td:nth-child(9)`).getAttribute('title')).toBe(receiver);
    expect(await linesOf(`${row} td:nth-child(8)`)).toBe(1);
    expect(await page.locator(`${row} td:nth-child(8)`).textContent()).toContain('sinks failed');
    // The table fits the page: nothing scrolls sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    await screenshot(page, 'layout-deliveries');
  });

  it('keeps "Drop matching…" on the row of Filter and Replay on dead letters', async () => {
    await page.goto(`${url}/dead-letters`);
    const top = async (name: string) =>
      (await page.getByRole('button', { name, exact: true }).boundingBox())?.y;
    const filter = await top('Filter');
    expect(filter).toBeDefined();
    expect(await top('Replay matching…')).toBe(filter);
    expect(await top('Drop matching…')).toBe(filter);
    expect(await page.getByText('1 letter matches').count()).toBe(1);
    await screenshot(page, 'layout-dead-letters');
  });

  it('shows a JSON body indented, wrapping words only at spaces and breaking only the long token', async () => {
    await page.goto(`${url}/letters/${encodeURIComponent(letterId)}`);
    const pre = page.locator('pre#body');
    expect(await pre.textContent()).toContain('{\n  "cohort_id": "c1",\n');
    // Every word of the sentence sits whole on a line; the 400-character token may break.
    const split = await pre.evaluate(brokenWords as never, words);
    expect(split).toEqual([]);
    expect(
      await pre.evaluate(((element: Shown) => element.scrollWidth <= element.clientWidth) as never),
    ).toBe(true);
    await screenshot(page, 'layout-letter');
  });

  it('asked for nothing that failed (no /favicon.ico 404) on any of these pages', () => {
    expect(failures).toEqual([]);
  });
});
