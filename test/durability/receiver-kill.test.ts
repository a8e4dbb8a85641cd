/**
 * kill -9 of a receiver while requests stream in: every batch that got its 200 must be applied after
 * a restart, in both durable modes. The batches are big enough that applying lags behind accepting,
 * so the kill finds a backlog (the test checks it did: otherwise it would prove nothing).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { queueKeys } from '../../src/redis/queue-keys.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../queue/redis-test-keys.ts';
import { describeWithService, probeRedis, redisUrl } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { addBody, cohortsOf, eventually, post } from './traffic.ts';

const usersPerBatch = 2000;
const senders = 8;

let dir: TempDir;
const running: ReceiverProcess[] = [];
beforeEach(async () => {
  dir = await createTempDir('receiver-kill');
});
afterEach(async () => {
  for (const receiver of running.splice(0)) {
    receiver.child.kill('SIGKILL');
    await receiver.exited;
  }
  await dir.remove();
});

async function start(env: Record<string, string>) {
  const receiver = await startReceiverProcess({
    env: { SINKS: 'none', SQLITE_PATH: join(dir.path, 'cohorts.db'), ...env },
  });
  running.push(receiver);
  return receiver;
}

/**
 * Streams batches (each with its own users) from `senders` loops until `acked` of them got a 200,
 * then kills the receiver with SIGKILL while the loops are still sending. Returns the acknowledged ones.
 */
async function streamThenKill(receiver: ReceiverProcess, acked: number) {
  const accepted: { messageId: string; firstUser: string }[] = [];
  let sequence = 0;
  let killed = false;
  const loop = async () => {
    while (!killed) {
      sequence += 1;
      const messageId = `kill-${sequence}`;
      const users = Array.from({ length: usersPerBatch }, (_, i) => `${messageId}-u${i}`);
      const result = await post(receiver.url, addBody('kill', messageId, users));
      if (result.status === 200 && result.body.status === 'accepted') {
        accepted.push({ messageId, firstUser: users[0] as string });
      }
      if (accepted.length >= acked && !killed) {
        killed = true;
        receiver.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: senders }, loop));
  await receiver.exited;
  return accepted;
}

async function expectAllApplied(url: string, accepted: { firstUser: string }[]) {
  // Each batch has users of its own: its first user being a member means the batch was applied.
  const missing = async () => {
    const states = await Promise.all(accepted.map(({ firstUser }) => cohortsOf(url, firstUser)));
    return accepted.filter((_, index) => !states[index]?.includes('kill'));
  };
  await eventually(async () => (await missing()).length === 0, 'every acknowledged batch to be applied');
  expect(await missing()).toEqual([]);
}

describe('kill -9 of a receiver, QUEUE=sqlite', () => {
  it('applies after a restart every batch that got a 200 before the kill', async () => {
    const env = { QUEUE: 'sqlite' };
    const accepted = await streamThenKill(await start(env), 40);
    const db = new Database(join(dir.path, 'cohorts.db'), { readonly: true });
    const backlog = db.prepare('SELECT count(*) FROM queue_inbox').pluck().get() as number;
    db.close();
    expect(backlog).toBeGreaterThan(0); // the kill came while acknowledged batches still waited

    const restarted = await start(env);
    await expectAllApplied(restarted.url, accepted);
  });
});

describeWithService(await probeRedis(), 'kill -9 of a receiver, QUEUE=redis', () => {
  let keyPrefix: string;
  beforeEach(() => {
    keyPrefix = randomKeyPrefix('test-kill');
  });
  afterEach(async () => {
    await deleteKeysUnder(redisUrl, keyPrefix);
  });

  it('applies after a restart every batch that got a 200 before the kill', async () => {
    // REDIS_CLAIM_IDLE_MS short: the new process claims what the dead one had read but not finished.
    const env = { QUEUE: 'redis', REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix, REDIS_CLAIM_IDLE_MS: '500' };
    const accepted = await streamThenKill(await start(env), 40);
    const admin = new Redis(redisUrl);
    const backlog = await admin.xlen(queueKeys(keyPrefix).stream);
    admin.disconnect();
    expect(backlog).toBeGreaterThan(0);

    const restarted = await start(env);
    await expectAllApplied(restarted.url, accepted);
  });
});
