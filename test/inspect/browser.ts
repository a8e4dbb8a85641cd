/**
 * Debian's chromium driven by playwright-core (which downloads no browser), for the inspector's
 * end-to-end tests, and real curl to send webhooks. Screenshots go to test-artifacts/inspect/.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describe, it } from 'vitest';

export const chromiumPath = '/usr/bin/chromium';
export const chromiumInstalled = existsSync(chromiumPath);
export const artifacts = fileURLToPath(new URL('../../test-artifacts/inspect/', import.meta.url));

/** `describe` when Debian's chromium is installed; else one failing test saying to install it (never a skip). */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumInstalled) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it(`needs ${chromiumPath}`, () => {
      throw new Error(
        `${chromiumPath} is missing: apt-get install --no-install-recommends chromium (.ci/run does)`,
      );
    });
  });
}

/** A fresh headless browser: launch() gives every run a new, empty profile. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** POSTs with /usr/bin/curl, as the README does; resolves with the status and the body. */
export function curlPost(url: string, body: string, headers: Record<string, string>) {
  const args = ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '--data-binary', '@-', url];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const child = execFile('/usr/bin/curl', args, (error, stdout) => {
      if (error) return reject(error);
      const at = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
    });
    child.stdin?.end(body);
  });
}

/** Reloads until `selector` is on the page: for what a worker writes a moment after the answer. */
export async function reloadUntil(page: Page, selector: string, attempts = 100): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if ((await page.locator(selector).count()) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await page.reload();
  }
  throw new Error(`${selector} never appeared on ${page.url()}`);
}

export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.fill('input[name="token"]', token);
  await Promise.all([
    page.waitForURL((target) => !target.pathname.endsWith('/login')),
    page.click('button[type="submit"]'),
  ]);
}
