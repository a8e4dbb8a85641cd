/**
 * Ready means the apply path is warm: the apply thread started, its modules loaded and the store
 * opened on it before the first batch comes, so that batch does not pay for them. /readyz answers
 * 503 `apply: warming up` until then; the `listening` line says whether it is ready and a `ready`
 * line follows once it is.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type RunningReceiver, startReceiver } from '../../src/compose.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let receiver: RunningReceiver | undefined;
let dir: TempDir | undefined;
afterEach(async () => {
  await receiver?.shutdown();
  await dir?.remove();
  receiver = dir = undefined;
});

async function start(env: Record<string, string>) {
  dir = await createTempDir('readiness');
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', SQLITE_PATH: join(dir.path, 'c.db'), ...env });
  receiver = await startReceiver(config, logger);
  return { receiver, lines };
}

describe('readiness', () => {
  it('answers 503 "apply: warming up" until the apply thread is warm, then 200 with a ready line', async () => {
    const { receiver: running, lines } = await start({ APPLY_THREAD: 'on' });
    expect(lines.find((line) => line.msg === 'listening')).toMatchObject({ ready: false });
    const answers: { status: number; body: unknown; afterReadyLine: boolean }[] = [];
    const isReady = () => lines.some((line) => line.msg === 'ready');
    for (;;) {
      const response = await fetch(`${running.url}/readyz`);
      answers.push({ status: response.status, body: await response.json(), afterReadyLine: isReady() });
      if (response.status === 200) break;
    }
    for (const { status, body } of answers.slice(0, -1)) {
      expect({ status, body }).toEqual({
        status: 503,
        body: { status: 'unavailable', reasons: ['apply: warming up'] },
      });
    }
    // The flag flips and the line is written in one turn: a 200 is never seen before the line.
    expect(answers.at(-1)).toEqual({ status: 200, body: { status: 'ready' }, afterReadyLine: true });
    expect(lines.find((line) => line.msg === 'ready')).toMatchObject({ warm_up_ms: expect.any(Number) });
  });

  it('is ready as soon as it listens when nothing needs warming (ROLE=receiver)', async () => {
    const { receiver: running, lines } = await start({ ROLE: 'receiver' });
    expect(lines.find((line) => line.msg === 'listening')).toMatchObject({ ready: true });
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    await running.ready;
    expect(lines.find((line) => line.msg === 'ready')).toMatchObject({ warm_up_ms: 0 });
  });
});
