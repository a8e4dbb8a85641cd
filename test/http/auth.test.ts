import { describe, expect, it } from 'vitest';
import { amplitudeBatch, createHarness } from './app-harness.ts';

describe('shared-secret auth', () => {
  const tokens = ['old-secret', 'new-secret'];

  it('answers 401 when the secret is missing', async () => {
    const harness = createHarness({ tokens });
    const response = await harness.post(amplitudeBatch());
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'unauthorized' });
  });

  it('answers 401 when the secret is wrong, and applies nothing', async () => {
    const harness = createHarness({ tokens });
    const response = await harness.post(amplitudeBatch(), { headers: { authorization: 'new-secreT' } });
    expect(response.status).toBe(401);
    expect((await harness.queue.stats()).batches).toBe(0);
  });

  it('accepts the secret as the bare header value', async () => {
    const harness = createHarness({ tokens });
    expect((await harness.post(amplitudeBatch(), { headers: { authorization: 'new-secret' } })).status).toBe(
      200,
    );
  });

  it('accepts the secret as a Bearer token, whatever the scheme case', async () => {
    const harness = createHarness({ tokens });
    expect(
      (await harness.post(amplitudeBatch(), { headers: { authorization: 'Bearer new-secret' } })).status,
    ).toBe(200);
    expect(
      (await harness.post(amplitudeBatch(), { headers: { authorization: 'bearer old-secret' } })).status,
    ).toBe(200);
  });

  it('accepts the secret as a ?token= query parameter', async () => {
    const harness = createHarness({ tokens });
    expect((await harness.post(amplitudeBatch(), { path: '/webhook?token=old-secret' })).status).toBe(200);
    expect((await harness.post(amplitudeBatch(), { path: '/webhook?token=nope' })).status).toBe(401);
  });

  it('accepts both tokens during a rotation', async () => {
    const harness = createHarness({ tokens });
    for (const token of tokens) {
      expect((await harness.post(amplitudeBatch(), { headers: { authorization: token } })).status).toBe(200);
    }
  });

  it('reads the secret from a custom header when AUTH_HEADER names one', async () => {
    const harness = createHarness({ tokens, authHeader: 'x-webhook-secret' });
    expect(
      (await harness.post(amplitudeBatch(), { headers: { 'x-webhook-secret': 'new-secret' } })).status,
    ).toBe(200);
    expect((await harness.post(amplitudeBatch(), { headers: { authorization: 'new-secret' } })).status).toBe(
      401,
    );
  });

  it('guards the read API and metrics with the same secret, but not the probes', async () => {
    const harness = createHarness({ tokens });
    for (const path of ['/cohorts', '/cohorts/q3k9xw1/members', '/users/user-1/cohorts', '/metrics']) {
      expect((await harness.app.request(path)).status, path).toBe(401);
      const allowed = await harness.app.request(path, { headers: { authorization: 'Bearer old-secret' } });
      expect(allowed.status, path).toBe(200);
    }
    expect((await harness.app.request('/healthz')).status).toBe(200);
    expect((await harness.app.request('/readyz')).status).toBe(200);
  });

  it('never writes the secret to the log', async () => {
    const harness = createHarness({ tokens });
    await harness.post(amplitudeBatch(), { path: '/webhook?token=old-secret' });
    await harness.post(amplitudeBatch(), { headers: { authorization: 'Bearer new-secret' } });
    await harness.post(amplitudeBatch(), { headers: { authorization: 'wrong-guess' } });
    const text = JSON.stringify(harness.logLines);
    expect(text).not.toMatch(/old-secret|new-secret|wrong-guess/);
  });
});
