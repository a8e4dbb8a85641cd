/** The inspector as `npm start` serves it: mounted by the composition module, at INSPECT_PATH, or not at all. */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let dir: TempDir | undefined;
let running: RunningReceiver | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  await dir?.remove();
});

async function start(env: Record<string, string>) {
  dir = await createTempDir('inspect-mount');
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', SQLITE_PATH: join(dir.path, 'c.db'), ...env });
  running = await startReceiver(config, pino({ level: 'silent' }));
  return running.url;
}

describe('the inspector in the receiver', () => {
  it('answers a loopback browser at /inspect without a login when auth is off (the quick start)', async () => {
    const url = await start({});
    const response = await fetch(`${url}/inspect`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('QUEUE=sqlite · STORE=sqlite · ROLE=all');
  });

  it('asks for ADMIN_TOKENS, not AUTH_TOKENS, when both are set', async () => {
    const url = await start({ AUTH_TOKENS: 'amplitude', ADMIN_TOKENS: 'operator' });
    const login = (token: string) =>
      fetch(`${url}/inspect/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: url,
          accept: 'application/json',
        },
        body: new URLSearchParams({ token }),
      });
    expect((await login('amplitude')).status).toBe(401);
    expect((await login('operator')).status).toBe(303);
  });

  it('takes AUTH_TOKENS when ADMIN_TOKENS is unset', async () => {
    const url = await start({ AUTH_TOKENS: 'amplitude' });
    const response = await fetch(`${url}/inspect/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ token: 'amplitude' }),
    });
    expect(response.status).toBe(303);
  });

  it('moves with INSPECT_PATH and is gone with INSPECT=off', async () => {
    const moved = await start({ INSPECT_PATH: '/ops/inspect' });
    expect((await fetch(`${moved}/ops/inspect`)).status).toBe(200);
    expect((await fetch(`${moved}/inspect`)).status).toBe(404);
    await running?.shutdown();
    running = undefined;
    await dir?.remove();
    const off = await start({ INSPECT: 'off' });
    expect((await fetch(`${off}/inspect`)).status).toBe(404);
  });
});
