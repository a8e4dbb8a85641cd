/**
 * SIGTERM with a backlog several times what SHUTDOWN_TIMEOUT_MS lets it apply (a slow sink holds
 * each batch), for every queue: each batch that got its 200 is in the store after a restart, and
 * none counted twice. QUEUE=memory writes what it could not apply in time to the SQLite file (the
 * spill) and applies it first at the next start; QUEUE=sqlite and QUEUE=redis keep it by design.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { eventually, post } from '../durability/traffic.ts';
import { type Downstream, startDownstream } from '../sinks/downstream.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { probeRedis, redisUrl, servicesRequired } from '../support/services.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const batches = 40;
const usersPerBatch = 2500;
const redis = await probeRedis();

let dir: TempDir;
let keyPrefix: string;
let downstream: Downstream;
const running: ReceiverProcess[] = [];
beforeEach(async () => {
  dir = await createTempDir('shutdown-backlog');
  keyPrefix = randomKeyPrefix('test-backlog');
  downstream = await startDownstream();
});
afterEach(async () => {
  for (const receiver of running.splice(0)) {
    receiver.child.kill('SIGKILL');
    await receiver.exited;
  }
  if (redis.available) await deleteKeysUnder(redisUrl, keyPrefix);
  await downstream.close();
  await dir.remove();
});

/** Batches the stopped receiver left for the next start: in the spill, the inbox or the stream. */
async function keptBatches(queue: string): Promise<number> {
  if (queue === 'redis') {
    // The queue's stream, whatever its key: the stream under the deployment's prefix that a
    // consumer group reads (the inspector keeps a stream of deliveries there too).
    const admin = new Redis(redisUrl);
    try {
      const streams = new Set<string>();
      for await (const keys of admin.scanStream({ match: `${keyPrefix}:*`, type: 'stream', count: 1000 })) {
        for (const key of keys as string[]) streams.add(key);
      }
      let kept = 0;
      for (const stream of streams) {
        const groups = (await admin.xinfo('GROUPS', stream)) as unknown[];
        if (groups.length > 0) kept += await admin.xlen(stream);
      }
      return kept;
    } finally {
      admin.disconnect();
    }
  }
  // Both wait in the inbox's file: the inbox itself, or what a shutdown of QUEUE=memory spilled.
  const db = new Database(join(dir.path, 'cohorts.inbox.db'), { readonly: true });
  try {
    const table = queue === 'memory' ? 'queue_memory_spill' : 'queue_inbox';
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

async function queuedUsers(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^cohort_receiver_queue_users (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** A user-ids-only body: the smallest there is for its users. */
const idsOnlyBody = (messageId: string, users: string[]) =>
  JSON.stringify({
    cohort_name: 'Backlog',
    cohort_id: 'backlog',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: users.map((userId) => ({ user_id: userId })),
  });

const sqlitePath = () => join(dir.path, 'cohorts.db');

async function start(queue: string) {
  const receiver = await startReceiverProcess({
    env: {
      QUEUE: queue,
      STORE: 'sqlite',
      SQLITE_PATH: sqlitePath(),
      SHUTDOWN_TIMEOUT_MS: '500',
      SINKS: 'http',
      SINK_HTTP_URL: downstream.url,
      SINK_HTTP_BATCH_SIZE: '500',
      REDIS_URL: redisUrl,
      KEY_PREFIX: keyPrefix,
      REDIS_CLAIM_IDLE_MS: '500',
    },
  });
  running.push(receiver);
  return receiver;
}

/** What the store holds for the test's cohort: rows in it, and the member count it keeps. */
function storeCounts() {
  const db = new Database(sqlitePath(), { readonly: true });
  try {
    const rows = db
      .prepare("SELECT count(*) FROM cohort_memberships WHERE cohort_id = 'backlog' AND in_cohort = 1")
      .pluck()
      .get() as number;
    const members = db
      .prepare("SELECT members FROM cohort_cohorts WHERE cohort_id = 'backlog'")
      .pluck()
      .get();
    return { rows, members: (members as number | undefined) ?? 0 };
  } finally {
    db.close();
  }
}

const queues = [
  'memory',
  'sqlite',
  ...(redis.available || (servicesRequired && !redis.notBuilt) ? ['redis'] : []),
];

describe.each(queues)('SIGTERM with a backlog, QUEUE=%s', (queue) => {
  it('applies after a restart every batch that got a 200, each once', async () => {
    // A slow downstream: the queue keeps each batch until the sink has its changes.
    downstream.respondWith(() => ({ status: 200, delayMs: 250 }));
    const receiver = await start(queue);
    const acked = new Set<number>();
    let next = 0;
    const send = async () => {
      while (next < batches) {
        const index = next++;
        const users = Array.from({ length: usersPerBatch }, (_, i) => `b${index}-u${i}`);
        const result = await post(receiver.url, idsOnlyBody(`backlog-${index}`, users));
        if (result.status === 200) acked.add(index);
      }
    };
    await Promise.all(Array.from({ length: 4 }, send));
    expect(acked.size).toBe(batches);
    const backlog = await queuedUsers(receiver.url);
    // Most of it still waits when the signal comes: several times what the 500 ms window applies.
    expect(backlog).toBeGreaterThan(0.8 * batches * usersPerBatch);
    receiver.child.kill('SIGTERM');
    const exitCode = await receiver.exited;
    const kept = await keptBatches(queue);
    expect(kept * usersPerBatch).toBeGreaterThan(0.6 * batches * usersPerBatch);
    if (queue === 'memory') {
      // It ran out of time (exit 1) and wrote the rest to the spill.
      expect(exitCode).toBe(1);
      const timedOut = receiver.logLines.find(
        (line) => line.msg === 'shutdown timeout: batches left undrained',
      );
      expect(kept * usersPerBatch).toBe(timedOut?.users);
    }

    downstream.respondWith(() => ({ status: 200 }));
    await start(queue);
    const everyone = acked.size * usersPerBatch;
    await eventually(
      async () => storeCounts().rows >= everyone,
      'every acknowledged user to be applied',
      60_000,
    );
    const db = new Database(sqlitePath(), { readonly: true });
    const present = db.prepare(
      "SELECT count(*) FROM cohort_memberships WHERE cohort_id = 'backlog' AND in_cohort = 1 AND user_id IN (?, ?)",
    );
    const missing = [...acked].filter(
      (index) => present.pluck().get(`b${index}-u0`, `b${index}-u${usersPerBatch - 1}`) !== 2,
    );
    db.close();
    expect(missing).toEqual([]);
    // Applied twice in effect would have moved the member count past the members.
    // Batches sent but refused during the shutdown were never applied: the rows are exactly the acked users.
    expect(storeCounts()).toEqual({ rows: everyone, members: everyone });
    // And nothing is left kept: the spill (memory) or the inbox (sqlite) is empty once the sink has it all.
    await eventually(async () => (await keptBatches(queue)) === 0, 'the kept backlog to be gone', 60_000);
  });
});
