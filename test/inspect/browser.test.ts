/**
 * End to end: a real receiver process (QUEUE=sqlite, STORE=sqlite), real curl, Debian's chromium.
 * An operator logs in, watches a delivery arrive live, opens it, finds a rejected body, replays a
 * dead letter by filter and sees it applied, looks a user up, and pauses a sink on the Sinks page.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { curlPost, describeWithChromium, launchBrowser, logIn, reloadUntil, screenshot } from './browser.ts';

const ampToken = 'amplitude-secret-e2e';
const adminToken = 'operator-secret-e2e';
const refusedCohort = 'refused-cohort';

const batchBody = (messageId: string, cohortId: string, users: string[], inCohort = true) =>
  JSON.stringify({
    cohort_id: cohortId,
    cohort_name: `Cohort ${cohortId}`,
    in_cohort: inCohort,
    computed_time: 1_700_000_000,
    message_id: messageId,
    users: users.map((user_id) => ({ user_id })),
  });

let dir: TempDir;
let receiver: ReceiverProcess;
let browser: Browser;
let page: Page;
let inspect: string;

const send = (body: string) =>
  curlPost(`${receiver.url}/webhook`, body, {
    authorization: `Bearer ${ampToken}`,
    'content-type': 'application/json',
  });

describeWithChromium('inspector in a real browser', () => {
  beforeAll(async () => {
    dir = await createTempDir('inspect-e2e');
    receiver = await startReceiverProcess({
      env: {
        QUEUE: 'sqlite',
        STORE: 'sqlite',
        SQLITE_PATH: join(dir.path, 'cohorts.db'),
        AUTH_TOKENS: ampToken,
        ADMIN_TOKENS: adminToken,
        APPLY_MAX_ATTEMPTS: '1',
        // A sink for the Sinks page to pause: the log sink only writes a line per change.
        SINKS: 'log',
      },
    });
    inspect = `${receiver.url}/inspect`;
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await receiver?.stop(5000);
    await dir?.remove();
  });

  it("logs in with an admin token (not with Amplitude's)", async () => {
    await page.goto(inspect);
    expect(new URL(page.url()).pathname).toBe('/inspect/login');
    await screenshot(page, 'login');
    await page.fill('input[name="token"]', ampToken);
    await page.click('button[type="submit"]');
    await expect(page.locator('#login-message').textContent()).resolves.toBe('That token is not accepted.');
    await logIn(page, `${inspect}/login`, adminToken);
    expect(new URL(page.url()).pathname).toBe('/inspect');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({
      name: 'inspect_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/inspect',
    });
  });

  it('shows a delivery sent with curl in the live tail without a reload, and pauses and resumes', async () => {
    await page.goto(`${inspect}/deliveries`);
    await page.waitForFunction("document.getElementById('live-status')?.textContent === 'live'");
    // A reload would drop this mark: the rows must come without one.
    await page.evaluate('window.notReloaded = true');
    const answer = await send(batchBody('e2e-live-1', 'e2e-cohort', ['alice', 'bob']));
    expect(answer.status).toBe(200);
    await page.locator('#deliveries-body tr.fresh', { hasText: 'e2e-live-1' }).waitFor();
    expect(await page.evaluate('window.notReloaded')).toBe(true);

    await page.click('#live-toggle');
    await expect(page.locator('#live-status').textContent()).resolves.toBe('paused');
    expect((await send(batchBody('e2e-paused-1', 'e2e-cohort', ['carol']))).status).toBe(200);
    await page.click('#live-toggle');
    // Resuming asks for what came after the last row seen: the delivery sent while paused arrives.
    await page.locator('#deliveries-body tr.fresh', { hasText: 'e2e-paused-1' }).waitFor();
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await screenshot(page, 'deliveries');
  });

  it('opens the delivery and shows its applied changes', async () => {
    await Promise.all([
      page.waitForURL(/\/inspect\/delivery\?/),
      page.click('#deliveries-body a:text-is("e2e-live-1")'),
    ]);
    await reloadUntil(page, '#applied');
    const applied = await page.locator('#applied').textContent();
    expect(applied).toMatch(/entered\s*2/);
    expect(applied).toMatch(/left\s*0/);
    expect(await page.locator('#delivery').textContent()).toMatch(/users\s*2/);
    await screenshot(page, 'delivery');
  });

  it('finds a rejected body in the quarantine, shown as text with its issue paths', async () => {
    const hostile =
      '{"cohort_id":"c","cohort_name":"<script>alert(1)</script>","in_cohort":true,"computed_time":1,"message_id":"bad-1","users":[{"id":"x"}]}';
    const answer = await send(hostile);
    expect(answer.status).toBe(422);
    await page.goto(`${inspect}/quarantine`);
    await reloadUntil(page, '#letters a');
    await Promise.all([page.waitForURL(/\/inspect\/letters\//), page.click('#letters a')]);
    expect(await page.locator('#issues').textContent()).toContain('users.0.user_id');
    // Indented for reading (only whitespace between tokens changes); the download keeps the bytes.
    expect(await page.locator('#body').textContent()).toBe(JSON.stringify(JSON.parse(hostile), null, 2));
    // The script in the body is text: no element came of it.
    expect(await page.locator('main script').count()).toBe(0);
    await screenshot(page, 'quarantine-letter');
    await page.goto(`${inspect}/quarantine`);
    await screenshot(page, 'quarantine');
  });

  it('replays a dead letter by filter after a preview, and the batch is applied', async () => {
    // The store refuses this one cohort until the trigger goes: its batch becomes a failed dead letter.
    const db = new Database(join(dir.path, 'cohorts.db'));
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TRIGGER e2e_refuse BEFORE INSERT ON cohort_memberships WHEN NEW.cohort_id = '${refusedCohort}'
      BEGIN SELECT RAISE(ABORT, 'the e2e test refuses this cohort'); END`);
    expect((await send(batchBody('e2e-refused-1', refusedCohort, ['dave']))).status).toBe(200);
    await page.goto(`${inspect}/dead-letters?kind=failed`);
    await reloadUntil(page, '#letters a');
    await screenshot(page, 'dead-letters');
    db.exec('DROP TRIGGER e2e_refuse');
    db.close();

    await page.fill('#letter-filter input[name="cohort"]', refusedCohort);
    await page.fill('#letter-filter input[name="reason"]', 'refuses this cohort');
    await Promise.all([page.waitForURL(/\/inspect\/letters\/bulk\?/), page.click('button[value="replay"]')]);
    expect(await page.locator('#confirm-summary').textContent()).toBe(
      'This will replay 1 letter (1 matches the filter).',
    );
    await screenshot(page, 'replay-confirm');
    await Promise.all([
      page.waitForURL(/\/inspect\/letters\/bulk\/replay$/),
      page.click('#confirm-form button[type="submit"]'),
    ]);
    expect(await page.locator('#results').textContent()).toContain('requeued');
    await screenshot(page, 'replay-result');

    await page.goto(`${inspect}/delivery?message_id=e2e-refused-1`);
    await reloadUntil(page, '#applied');
    expect(await page.locator('#applied').textContent()).toMatch(/entered\s*1/);
  });

  it('looks a user up and lists the cohorts', async () => {
    await page.goto(`${inspect}/cohorts`);
    expect(await page.locator('#cohorts').textContent()).toContain('Cohort e2e-cohort');
    await screenshot(page, 'cohorts');
    await page.fill('#user-lookup input[name="user_id"]', 'dave');
    await Promise.all([page.waitForURL(/\/inspect\/users\?/), page.click('#user-lookup button')]);
    expect(await page.locator('#user-summary').textContent()).toBe('dave is in 1 cohort.');
    expect(await page.locator('#user-cohorts').textContent()).toContain(refusedCohort);
    await screenshot(page, 'user');
    await page.goto(`${inspect}/retention`);
    expect(await page.locator('#retention').textContent()).toMatch(/deliveries kept\s*[1-9]/);
    await screenshot(page, 'retention');
    await page.goto(inspect);
    // Three batches accepted since start, all in the last hour (the replay hands one back, not a new one).
    expect(await page.locator('#counters tr:has(td:text-is("accepted")) td.num').allTextContents()).toEqual([
      '3',
      '3',
    ]);
    await screenshot(page, 'overview');
    await page.goto(`${inspect}/deliveries`);
    expect(await page.locator('#deliveries-body tr').count()).toBe(4);
    await screenshot(page, 'deliveries-all');
  });

  it('pauses a sink through the Sinks page and its confirm form, and resumes it', async () => {
    await page.goto(`${inspect}/sinks`);
    const row = page.locator('#sinks tr[data-sink="log"]');
    expect(await row.locator('.sink-state').textContent()).toBe('running');
    await screenshot(page, 'sinks');
    await Promise.all([
      page.waitForURL(/\/inspect\/sinks\/pause\?sink=log$/),
      row.locator('a:text-is("Pause…")').click(),
    ]);
    expect(await page.locator('#confirm-summary').textContent()).toBe('This will pause the sink log.');
    await screenshot(page, 'sink-pause-confirm');
    await Promise.all([
      page.waitForURL(/\/inspect\/sinks\/pause$/),
      page.click('#confirm-form button[type="submit"]'),
    ]);
    expect(await page.locator('h1').textContent()).toBe('Paused log');
    await Promise.all([page.waitForURL(/\/inspect\/sinks$/), page.click('main a:text-is("Sinks")')]);
    expect(await row.locator('.sink-state').textContent()).toMatch(
      /^paused since .+ ago\) by inspector [0-9a-f]{8}$/,
    );
    await screenshot(page, 'sinks-paused');
    expect(receiver.logLines).toContainEqual(
      expect.objectContaining({ msg: 'inspector action', action: 'pause', sink: 'log' }),
    );

    await Promise.all([
      page.waitForURL(/\/inspect\/sinks\/resume\?sink=log$/),
      row.locator('a:text-is("Resume…")').click(),
    ]);
    await Promise.all([
      page.waitForURL(/\/inspect\/sinks\/resume$/),
      page.click('#confirm-form button[type="submit"]'),
    ]);
    expect(await page.locator('h1').textContent()).toBe('Resumed log');
  });

  it('draws charts of the traffic on the overview, a cohort page and the sinks page', async () => {
    // The recorder writes its minutes within a second or two, and samples members every 10 s.
    const pages = [
      { path: inspect, name: 'overview', charts: ['#chart-traffic', '#chart-ack'] },
      {
        path: `${inspect}/cohort?id=e2e-cohort`,
        name: 'cohort',
        charts: ['#chart-entered-left', '#chart-members'],
      },
      { path: `${inspect}/sinks`, name: 'sinks', charts: ['#sink-charts [data-sink="log"] .chart'] },
    ];
    for (const { path, name, charts } of pages) {
      await page.goto(path);
      for (const chart of charts) await reloadUntil(page, `${chart} [data-point]`, 300);
      for (const chart of charts) {
        expect(await page.locator(`${chart} [data-point]`).count(), `${name}: ${chart}`).toBeGreaterThan(0);
      }
      expect(await page.locator('main svg title').count()).toBeGreaterThan(0);
      await screenshot(page, `${name}-charts-1280`);
    }
    // The overview leads with what needs a person: the failed batch replayed, the quarantined body stays.
    expect(await page.goto(inspect).then(() => page.locator('main > :nth-child(2)').getAttribute('id'))).toBe(
      'attention',
    );
    expect(await page.locator('#attention li[data-attention="quarantine"]').textContent()).toMatch(
      /^1 rejected body in the quarantine/,
    );
  });

  it('keeps the charts readable on a phone (390 px)', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      storageState: await page.context().storageState(),
    });
    const small = await phone.newPage();
    try {
      for (const [path, name] of [
        [inspect, 'overview'],
        [`${inspect}/cohort?id=e2e-cohort`, 'cohort'],
        [`${inspect}/sinks?range=day`, 'sinks'],
      ] as const) {
        await small.goto(path);
        const first = small.locator('figure.chart').first();
        const box = await first.boundingBox();
        expect(box?.width ?? 0, name).toBeGreaterThan(0);
        expect((box?.x ?? 0) + (box?.width ?? 0), name).toBeLessThanOrEqual(390);
        expect(await small.locator('main [data-point]').count(), name).toBeGreaterThan(0);
        await screenshot(small, `${name}-charts-390`);
        // The page itself does not scroll sideways: a chart wider than the phone scrolls in its box.
        expect(await small.evaluate('document.documentElement.scrollWidth'), name).toBeLessThanOrEqual(390);
      }
    } finally {
      await phone.close();
    }
  });

  it('logs out', async () => {
    await page.click('header form button');
    expect(new URL(page.url()).pathname).toBe('/inspect/login');
    await page.goto(inspect);
    expect(new URL(page.url()).pathname).toBe('/inspect/login');
  });
});
