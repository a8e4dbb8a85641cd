/**
 * Auth through a real HTTP server: there the secret is read from Node's own header map (no Web
 * Headers), which the in-process `app.request()` tests of auth.test.ts never reach.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import { amplitudeBatch } from './app-harness.ts';

const tokens = ['old-secret', 'the-new-secret'];
const receivers: RunningReceiver[] = [];
const start = async (env: Record<string, string> = {}) => {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    STORE: 'memory',
    SQLITE_PATH: ':memory:',
    AUTH_TOKENS: tokens.join(','),
    ...env,
  });
  const receiver = await startReceiver(config, pino({ level: 'silent' }));
  receivers.push(receiver);
  return receiver;
};
let receiver: RunningReceiver;
beforeAll(async () => {
  receiver = await start();
});
afterAll(async () => {
  for (const running of receivers) await running.shutdown();
});

const post = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(amplitudeBatch()),
  });

describe('auth on a served receiver', () => {
  it('accepts either token, bare or as a Bearer token in any case', async () => {
    const url = `${receiver.url}/webhook`;
    expect((await post(url, { authorization: 'old-secret' })).status).toBe(200);
    expect((await post(url, { authorization: 'Bearer the-new-secret' })).status).toBe(200);
    expect((await post(url, { authorization: 'bEaReR old-secret' })).status).toBe(200);
  });

  it('answers 401 to a wrong token of the same length, and to none', async () => {
    const url = `${receiver.url}/webhook`;
    const wrong = await post(url, { authorization: 'old-secreT' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'unauthorized' });
    expect((await post(url, { authorization: 'Bearer the-new-secreT' })).status).toBe(401);
    expect((await post(url)).status).toBe(401);
  });

  it('takes the token from ?token= too', async () => {
    expect((await post(`${receiver.url}/webhook?token=the-new-secret`)).status).toBe(200);
    expect((await post(`${receiver.url}/webhook?token=the-new-secreT`)).status).toBe(401);
  });

  it('reads a custom AUTH_HEADER, and then ignores Authorization', async () => {
    const custom = await start({ AUTH_HEADER: 'X-Webhook-Secret' });
    const url = `${custom.url}/webhook`;
    expect((await post(url, { 'x-webhook-secret': 'old-secret' })).status).toBe(200);
    expect((await post(url, { 'X-Webhook-Secret': 'old-secreT' })).status).toBe(401);
    expect((await post(url, { authorization: 'old-secret' })).status).toBe(401);
  });
});
