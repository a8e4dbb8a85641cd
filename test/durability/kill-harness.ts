/**
 * kill -9 of a receiver while requests stream in, for the durable modes' tests: batches big enough
 * that applying lags behind accepting, so the kill finds a backlog (each test checks it did).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { addBody, cohortsOf, eventually, post } from './traffic.ts';

const usersPerBatch = 2000;
const senders = 8;

let dir: TempDir;
const running: ReceiverProcess[] = [];

/** Registers the hooks: a fresh directory per test, and no receiver left running after it. */
export function useKillHarness() {
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
  return { start, streamThenKill, expectAllApplied, sqlitePath: () => join(dir.path, 'cohorts.db') };
}

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
