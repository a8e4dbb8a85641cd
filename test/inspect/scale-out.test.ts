/**
 * QUEUE=redis with two receivers and one worker (three processes): one inspector page, on either
 * receiver, shows the deliveries both took and the results the worker wrote, from Redis.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { curlPost, describeWithChromium, launchBrowser, logIn, reloadUntil, screenshot } from './browser.ts';

const keyPrefix = randomKeyPrefix('test-inspect');
const ampToken = 'amplitude-secret-scale';
const adminToken = 'operator-secret-scale';

const body = (messageId: string) =>
  JSON.stringify({
    cohort_id: 'shared',
    cohort_name: 'Shared',
    in_cohort: true,
    computed_time: 1_700_000_000,
    message_id: messageId,
    users: [{ user_id: `user-of-${messageId}` }],
  });

const redis = await probeRedis();
describeWithChromium('inspector across processes', () => {
  describeWithService(redis, 'QUEUE=redis: two receivers, one worker, one page', () => {
    const processes: ReceiverProcess[] = [];
    let browser: Browser;
    let page: Page;

    const start = async (role: 'receiver' | 'worker') => {
      const spawned = await startReceiverProcess({
        env: {
          ROLE: role,
          QUEUE: 'redis',
          REDIS_URL: redisUrl,
          KEY_PREFIX: keyPrefix,
          STORE: role === 'worker' ? 'redis' : 'memory',
          AUTH_TOKENS: ampToken,
          ADMIN_TOKENS: adminToken,
          SINKS: 'none',
        },
      });
      processes.push(spawned);
      return spawned;
    };

    beforeAll(async () => {
      browser = await launchBrowser();
      page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    });
    afterAll(async () => {
      await browser?.close();
      for (const spawned of processes) await spawned.stop(5000);
      await deleteKeysUnder(redisUrl, keyPrefix);
    });

    it("shows every receiver's deliveries and the worker's results on one receiver's page", async () => {
      const [first, second] = await Promise.all([start('receiver'), start('receiver')]);
      await start('worker');
      const sent: string[] = [];
      for (const [index, receiver] of [first, second, first, second].entries()) {
        const messageId = `scale-${index}-via-${receiver === first ? 'first' : 'second'}`;
        const answer = await curlPost(`${receiver.url}/webhook`, body(messageId), {
          authorization: `Bearer ${ampToken}`,
          'content-type': 'application/json',
        });
        expect(answer.status).toBe(200);
        sent.push(messageId);
      }

      await logIn(page, `${first.url}/inspect/login?next=/inspect/deliveries`, adminToken);
      // Every row applied: the worker's results reached the receiver's page through Redis.
      await reloadUntil(page, '#deliveries-body tr:nth-child(4)');
      for (let attempt = 0; attempt < 100; attempt += 1) {
        if ((await page.locator('#deliveries-body td', { hasText: 'waiting' }).count()) === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
        await page.reload();
      }
      const rows = await page
        .locator('#deliveries-body tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Array.from(
              (tr as { cells: ArrayLike<{ textContent: string | null }> }).cells,
              (td) => td.textContent ?? '',
            ),
          ),
        );
      expect(rows.map((cells) => cells[6]).sort()).toEqual([...sent].sort());
      expect(rows.every((cells) => cells[7] === '+1 −0 ~0 =0')).toBe(true);
      // Rows from both receiver processes, named hostname-pid.
      const receivers = [...new Set(rows.map((cells) => cells[8] ?? ''))];
      expect(receivers).toHaveLength(2);
      for (const receiver of [first, second]) {
        expect(receivers.some((name) => name.endsWith(`-${receiver.pid}`))).toBe(true);
      }
      await screenshot(page, 'scale-out-deliveries');
    });
  });
});
