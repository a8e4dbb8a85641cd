/**
 * A rejected body is quarantined with its exact bytes, in every dead-letter backend: sent to a real
 * receiver, downloaded byte for byte, and replayed to the same rejection. A body that is not UTF-8
 * is the hard case: kept as text, each bad byte would become U+FFFD, and the mended body would
 * then pass on replay although the receiver never accepted what was sent.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDlq } from '../../src/cli/dlq-command.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createReceiverEvents } from '../../src/core/events.ts';
import { createApp } from '../../src/core/http/app.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { createMemoryQueue } from '../../src/core/queue/memory.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { runDlqCli } from '../cli/run-dlq.ts';
import { startTestReceiver, type TestReceiver } from '../hardening/receiver.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const payload = (messageId: string, cohortName: Buffer, users: number) =>
  Buffer.concat([
    Buffer.from('{"cohort_name":"'),
    cohortName,
    Buffer.from(
      `","cohort_id":"c1","in_cohort":true,"computed_time":"1700000000","message_id":"${messageId}","users":[${Array.from(
        { length: users },
        (_, i) => `{"user_id":"u${i}"}`,
      ).join(',')}]}`,
    ),
  ]);

/**
 * Two bodies a receiver with MAX_USERS_PER_BATCH=2 rejects: one valid JSON but for its 0xff/0xfe
 * bytes (mended to U+FFFD it would pass), and one valid UTF-8 with a user too many.
 */
const bodies = {
  notUtf8: payload('bytes-1', Buffer.from([0x54, 0xff, 0xfe, 0x80, 0x72]), 1),
  tooManyUsers: payload('users-1', Buffer.from('Trial ü'), 3),
};
const reasons = {
  notUtf8: 'invalid_json: body is not valid UTF-8',
  tooManyUsers: /^invalid_payload: users/,
};

const post = (url: string, body: Buffer) =>
  fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('lossless');
});
afterEach(async () => {
  await dir.remove();
});

describe('a quarantined body, memory dead letters', () => {
  it('keeps the exact bytes, downloads them, and replays to the same rejection', async () => {
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
    const queue = createMemoryQueue({ dedupeTtlSeconds: 60, maxUsers: 1000 });
    const store = createMemoryStore();
    const parseBatch = createBatchParser({ maxUsers: 2 });
    const app = createApp({
      queue,
      store,
      deadLetters,
      parseBatch,
      events: createReceiverEvents(),
      logger: pino({ level: 'silent' }),
      webhook: { path: '/webhook', maxBodyBytes: 1024 * 1024 },
      auth: { tokens: [], header: 'authorization' },
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(started));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const printed: string[] = [];
      const dlq = (...argv: string[]) =>
        runDlq(argv, {
          backends: { queue, store, deadLetters },
          parseBatch,
          sinkReplay: () => ({ sinks: [] }),
          print: (line) => printed.push(line),
        });
      for (const [name, sent] of Object.entries(bodies) as [keyof typeof bodies, Buffer][]) {
        const answer = await post(url, sent);
        expect([400, 422], name).toContain(answer.status);
        const [letter] = await deadLetters.list({ kind: 'rejected', limit: 1 });
        expect(letter?.reason, name).toMatch(reasons[name]);

        const file = join(dir.path, `${name}.bin`);
        expect(await dlq('download', letter?.id ?? '', '--out', file), name).toBe(0);
        expect((await readFile(file)).equals(sent), name).toBe(true);

        printed.length = 0;
        expect(await dlq('replay', letter?.id ?? ''), name).toBe(1);
        expect(printed, name).toEqual([`${letter?.id}  still_rejected: ${letter?.reason}; kept`]);
        expect(await deadLetters.get(letter?.id ?? ''), name).toEqual(letter);
      }
      expect(await queue.stats()).toMatchObject({ batches: 0 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await queue.close();
    }
  });
});

/** Posts each body to a real receiver, then downloads and replays it with the real CLI. */
async function roundTrip(receiver: TestReceiver, cliEnv: Record<string, string>) {
  for (const [name, sent] of Object.entries(bodies) as [keyof typeof bodies, Buffer][]) {
    const answer = await post(receiver.url, sent);
    expect([400, 422], name).toContain(answer.status);
    const [letter] = await receiver.parts.deadLetters.list({ kind: 'rejected', limit: 1 });
    expect(letter?.reason, name).toMatch(reasons[name]);
    const id = letter?.id ?? '';

    const file = join(dir.path, `${name}.bin`);
    // A still-rejected letter stays as it is, so the three commands can run side by side.
    const [downloaded, toStdout, replayed] = await Promise.all([
      runDlqCli(['download', id, '--out', file], cliEnv),
      runDlqCli(['download', id], cliEnv),
      runDlqCli(['replay', id], cliEnv),
    ]);
    expect(replayed.code, replayed.stderr).toBe(1);
    expect(replayed.stdout, name).toBe(`${id}  still_rejected: ${letter?.reason}; kept\n`);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect((await readFile(file)).equals(sent), name).toBe(true);
    expect(toStdout.stdoutBytes.equals(sent), name).toBe(true);
    expect(await receiver.parts.deadLetters.get(id), name).toEqual(letter);
  }
  expect(await receiver.parts.queue.stats()).toMatchObject({ batches: 0 });
}

describe('a quarantined body, SQLite dead letters', () => {
  it('keeps the exact bytes, downloads them, and replays to the same rejection', async () => {
    const receiver = await startTestReceiver({ QUEUE: 'sqlite', SINKS: 'none', MAX_USERS_PER_BATCH: '2' });
    try {
      await roundTrip(receiver, {
        QUEUE: 'sqlite',
        SQLITE_PATH: receiver.sqlitePath,
        SINKS: 'none',
        MAX_USERS_PER_BATCH: '2',
      });
    } finally {
      await receiver.stop();
    }
  });
});

describeWithService(await probeRedis(), 'a quarantined body, Redis dead letters', () => {
  let keyPrefix: string;
  beforeEach(() => {
    keyPrefix = randomKeyPrefix('test-lossless');
  });
  afterEach(async () => {
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('keeps the exact bytes, downloads them, and replays to the same rejection', async () => {
    const env = {
      QUEUE: 'redis',
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      SINKS: 'none',
      MAX_USERS_PER_BATCH: '2',
    };
    const receiver = await startTestReceiver(env);
    try {
      await roundTrip(receiver, { ...env, SQLITE_PATH: receiver.sqlitePath });
    } finally {
      await receiver.stop();
    }
  });
});
