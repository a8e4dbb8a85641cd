import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDlq } from '../../src/cli/dlq-command.ts';
import { type Backends, loadConfig, openBackends } from '../../src/compose.ts';
import { createBatchParser } from '../../src/core/payload/parse-batch.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { runDlqCli } from './run-dlq.ts';

let dir: TempDir;
const opened: Backends[] = [];
beforeEach(async () => {
  dir = await createTempDir('dlq');
});
afterEach(async () => {
  for (const parts of opened.splice(0)) await parts.close();
  await dir.remove();
});

async function open(env: Record<string, string>) {
  const config = loadConfig({ SQLITE_PATH: join(dir.path, 'cohorts.db'), SINKS: 'none', ...env });
  const parts = await openBackends(config, pino({ level: 'silent' }));
  opened.push(parts);
  const printed: string[] = [];
  const dlq = (...argv: string[]) =>
    runDlq(argv, {
      backends: parts,
      parseBatch: createBatchParser({ maxUsers: config.MAX_USERS_PER_BATCH }),
      sinkReplay: () => ({ sinks: [] }),
      print: (line) => printed.push(line),
    });
  return { parts, config, dlq, printed };
}

const amplitudeBody = (messageId: string, users: number) =>
  JSON.stringify({
    cohort_name: 'Trial',
    cohort_id: 'c1',
    in_cohort: true,
    computed_time: 1692206763,
    message_id: messageId,
    users: Array.from({ length: users }, (_, i) => ({ user_id: `u${i}` })),
  });

/** A failed batch, a body rejected for a limit since raised, and one that will never parse. */
async function addLetters(parts: Backends) {
  const batch = cohortBatch({ users: [{ userId: 'failed-user' }] });
  await parts.deadLetters.add({
    kind: 'failed',
    reason: 'store down',
    body: JSON.stringify(batch),
    messageId: batch.messageId,
  });
  await parts.deadLetters.add({
    kind: 'rejected',
    reason: 'invalid_payload: too many users',
    body: amplitudeBody('big-1', 3),
  });
  await parts.deadLetters.add({ kind: 'rejected', reason: 'invalid_json', body: '{"cohort_id":' });
  return batch;
}

describe('npm run dlq, QUEUE=sqlite', () => {
  it('hands a failed batch back to the workers and accepts a rejected body that now passes', async () => {
    const { parts, dlq, printed } = await open({ QUEUE: 'sqlite', MAX_USERS_PER_BATCH: '10' });
    const batch = await addLetters(parts);
    expect(await dlq('list')).toBe(0);
    expect(printed).toHaveLength(3);
    expect(printed.join('\n')).toMatch(/store down/);

    printed.length = 0;
    expect(await dlq('replay', '--all')).toBe(1); // the broken JSON cannot be replayed
    expect(printed.join('\n')).toMatch(/requeued for the workers/);
    expect(printed.join('\n')).toMatch(/accepted as big-1/);
    expect(printed.join('\n')).toMatch(/still_rejected: .*; kept/);
    expect((await parts.deadLetters.list()).map((letter) => letter.reason)).toEqual(['invalid_json']);

    const delivered: string[] = [];
    parts.queue.consume(async (got) => {
      delivered.push(got.messageId);
    });
    expect(await parts.queue.drain(5000)).toBe(true);
    expect(delivered.sort()).toEqual([batch.messageId, 'big-1'].sort());
  });

  it('drops one letter by id, or all of a kind, and says when an id is unknown', async () => {
    const { parts, dlq, printed } = await open({ QUEUE: 'sqlite' });
    await addLetters(parts);
    const [newest] = await parts.deadLetters.list();
    expect(await dlq('drop', newest?.id ?? '')).toBe(0);
    expect(await dlq('drop', '--all', '--kind', 'rejected')).toBe(0);
    expect((await parts.deadLetters.list()).map((letter) => letter.kind)).toEqual(['failed']);
    expect(await dlq('show', '999999')).toBe(1);
    expect(printed.at(-1)).toMatch(/no letter with id 999999/);
    expect(await dlq('frobnicate')).toBe(2);
  });
});

describe('npm run dlq, QUEUE=memory', () => {
  it('applies a failed batch to the store directly: the receiver’s memory queue is out of reach', async () => {
    const { parts, dlq, printed } = await open({ QUEUE: 'memory', STORE: 'sqlite' });
    const batch = await addLetters(parts);
    const [failed] = await parts.deadLetters.list({ kind: 'failed' });
    expect(await dlq('replay', failed?.id ?? '')).toBe(0);
    expect(printed.join('\n')).toMatch(/applied to the store \(1 changes\)/);
    expect(await parts.store?.userCohorts('failed-user')).toMatchObject([{ cohortId: batch.cohortId }]);
  });
});

describeWithService(await probeRedis(), 'npm run dlq, QUEUE=redis', () => {
  let keyPrefix: string;
  beforeEach(() => {
    keyPrefix = randomKeyPrefix('test-dlq');
  });
  afterEach(async () => {
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('lists and replays letters kept in Redis, from a separate process as an operator runs it', async () => {
    const env = { QUEUE: 'redis', REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, SINKS: 'none' };
    const { parts } = await open(env);
    const batch = await addLetters(parts);
    const [failed] = await parts.deadLetters.list({ kind: 'failed' });

    const listed = await runDlqCli(['list', '--kind', 'failed'], {
      ...env,
      SQLITE_PATH: join(dir.path, 'cli.db'),
    });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(failed?.id);
    const replayedOne = await runDlqCli(['replay', failed?.id ?? ''], {
      ...env,
      SQLITE_PATH: join(dir.path, 'cli.db'),
    });
    expect(replayedOne).toMatchObject({ code: 0, stdout: expect.stringMatching(/requeued for the workers/) });

    const delivered: string[] = [];
    parts.queue.consume(async (got) => {
      delivered.push(got.messageId);
    });
    expect(await parts.queue.drain(5000)).toBe(true);
    expect(delivered).toEqual([batch.messageId]);
    expect(await parts.deadLetters.list({ kind: 'failed' })).toEqual([]);
  });
});

describeWithService(await probeRedis(), 'npm run dlq, where it reads', () => {
  it('says first, on stderr, which backend and KEY_PREFIX it reads, without credentials', async () => {
    const keyPrefix = randomKeyPrefix('test-dlq-source');
    const sqlitePath = join(dir.path, 'cohorts.db');
    // The dead letters live in the inbox file, beside the store's.
    const inboxPath = join(dir.path, 'cohorts.inbox.db');
    const base = { SQLITE_PATH: sqlitePath, SINKS: 'none' };
    const withCredentials = redisUrl.replace('redis://', 'redis://operator:s3cret@');
    const [sqlite, memory, redis, credentialed] = await Promise.all([
      runDlqCli(['list'], { ...base, QUEUE: 'sqlite' }),
      runDlqCli(['list'], { ...base, QUEUE: 'memory' }),
      runDlqCli(['list'], { ...base, QUEUE: 'redis', REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix }),
      runDlqCli(['list'], {
        ...base,
        QUEUE: 'redis',
        REDIS_URL: `${withCredentials}/0?password=s3cret`,
        KEY_PREFIX: keyPrefix,
      }),
    ]);
    const firstLine = (run: { stderr: string }) => run.stderr.split('\n')[0];
    expect(firstLine(sqlite)).toBe(`reading dead letters from SQLite ${inboxPath} (QUEUE=sqlite)`);
    expect(firstLine(memory)).toBe(`reading dead letters from SQLite ${inboxPath} (QUEUE=memory)`);
    expect(firstLine(redis)).toBe(`reading dead letters from Redis ${redisUrl} (KEY_PREFIX=${keyPrefix})`);
    expect(firstLine(credentialed)).toBe(
      `reading dead letters from Redis ${redisUrl.replace(/\/$/, '')}/0 (KEY_PREFIX=${keyPrefix})`,
    );
    for (const run of [sqlite, memory, redis]) expect(run).toMatchObject({ code: 0, stdout: 'no letters\n' });
    await deleteKeysUnder(redisUrl, keyPrefix);
  });
});
