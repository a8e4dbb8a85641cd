import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, openBackends, startReceiver } from '../../src/compose.ts';
import { testBatch } from '../queue/contract.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

let dir: TempDir;
const running: RunningReceiver[] = [];
beforeEach(async () => {
  dir = await createTempDir('roles');
});
afterEach(async () => {
  for (const receiver of running.splice(0)) await receiver.shutdown();
  await dir.remove();
});

const configFor = (env: Record<string, string>) =>
  loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SQLITE_PATH: join(dir.path, 'cohorts.db'),
    SINKS: 'none',
    ...env,
  });

const body = (messageId: string) =>
  JSON.stringify({
    cohort_name: 'C',
    cohort_id: 'c1',
    in_cohort: true,
    computed_time: 1,
    message_id: messageId,
    users: [{ user_id: 'u1' }],
  });

/** Waits until the process at `url` reads user u1 in one cohort; throws `failure` after 5 s. */
async function waitUntilApplied(url: string, failure: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const cohorts = (await (await fetch(`${url}/users/u1/cohorts`)).json()) as { cohorts: unknown[] };
    if (cohorts.cohorts.length === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(failure);
}

describe('ROLE with QUEUE=sqlite on one machine', () => {
  it('splits accepting and applying between a receiver and a worker process on one file', async () => {
    const start = async (role: string) => {
      const receiver = await startReceiver(
        configFor({ QUEUE: 'sqlite', ROLE: role }),
        pino({ level: 'silent' }),
      );
      running.push(receiver);
      await receiver.ready;
      return receiver;
    };
    const receiver = await start('receiver');
    const worker = await start('worker');

    expect((await fetch(`${worker.url}/webhook`, { method: 'POST', body: body('w-1') })).status).toBe(404);
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${receiver.url}/cohorts`)).status).toBe(404);

    expect((await fetch(`${receiver.url}/webhook`, { method: 'POST', body: body('r-1') })).status).toBe(200);
    await waitUntilApplied(worker.url, 'the worker never applied what the receiver accepted');
  });

  it('refuses ROLE=worker with the memory queue: nothing could reach it', () => {
    expect(() => configFor({ ROLE: 'worker', QUEUE: 'memory' })).toThrow(
      /ROLE=worker needs a queue other processes can fill/,
    );
  });
});

describe('ROLE=receiver with the memory queue', () => {
  /** A logger whose lines land in `lines`. */
  const capturing = () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    return { logger, lines };
  };
  const warned = (lines: { msg: string }[]) =>
    lines.some((line) =>
      line.msg.startsWith('ROLE=receiver with QUEUE=memory: nothing in this process applies'),
    );

  it('warns at start that nothing applies, and what it accepted is applied by a process on the defaults on its files', async () => {
    const receiverLog = capturing();
    const receiver = await startReceiver(
      configFor({ ROLE: 'receiver', QUEUE: 'memory' }),
      receiverLog.logger,
    );
    expect(receiverLog.lines.filter((line) => warned([line])).map((line) => line.level)).toEqual([40]);
    expect((await fetch(`${receiver.url}/webhook`, { method: 'POST', body: body('m-1') })).status).toBe(200);
    await receiver.shutdown();

    const allLog = capturing();
    const all = await startReceiver(configFor({}), allLog.logger);
    running.push(all);
    expect(warned(allLog.lines)).toBe(false);
    await waitUntilApplied(
      all.url,
      'the process on the defaults (QUEUE=sqlite) never applied what the receiver-only process kept',
    );
  });
});

describe('parts: QUEUE=sqlite', () => {
  it('keeps the inbox row until the handler resolves (a crash before then hands it over again)', async () => {
    const parts = await openBackends(configFor({ QUEUE: 'sqlite' }), pino({ level: 'silent' }));
    try {
      await parts.queue.accept(testBatch({ users: [{ userId: 'kept' }] }));
      let rowsDuringApply = -1;
      parts.queue.consume(async () => {
        rowsDuringApply = (await parts.queue.stats()).batches;
      });
      expect(await parts.queue.drain(5000)).toBe(true);
      expect(rowsDuringApply).toBe(1);
      expect((await parts.queue.stats()).batches).toBe(0);
    } finally {
      await parts.close();
    }
  });
});
