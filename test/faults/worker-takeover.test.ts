/**
 * A worker that dies is replaced at once, and one that is merely slow is left alone (QUEUE=redis,
 * a receiver and two worker processes, STORE=postgres in a schema of its own).
 *
 * - A worker killed with SIGKILL mid-apply, at the default REDIS_CLAIM_IDLE_MS: the batches it held
 *   are claimed and applied by the other worker, and the final state equals the oracle's. The time
 *   from the kill to the takeover is printed (it is measured, not asserted).
 * - A batch whose apply takes several times the claim idle (100,000 users on Postgres: a real
 *   apply, not a delay hook): the worker applying it heartbeats it, so the other worker never
 *   claims it. Redis' own pending-entry list is watched during the apply: the entry keeps its
 *   consumer and its delivery count of 1. Both workers' `batch applied` lines name it once.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ReceiverProcess } from '../../bench/receiver-process.ts';
import type { CohortBatch } from '../../src/core/batch.ts';
import { queueKeys } from '../../src/redis/queue-keys.ts';
import { eventually } from '../durability/traffic.ts';
import { redisQueueEmpty } from '../redis/queue-state.ts';
import { deleteKeysUnder, randomKeyPrefix } from '../support/redis-keys.ts';
import { describeWithService, probePostgres, probeRedis, redisUrl } from '../support/services.ts';
import {
  allOf,
  appliedBy,
  type Deployment,
  dropPostgresSchema,
  postgresUrlForProcesses,
  startDeployment,
} from './deployment.ts';
import { awaitMembership, describeDiff } from './membership-check.ts';
import { startSender } from './sender.ts';
import { makeTraffic, webhookBody } from './traffic.ts';

let keyPrefix: string;
let deployment: Deployment | undefined;
let admin: Redis;

describeWithService(
  allOf(await probeRedis(), await probePostgres()),
  'a dead worker is replaced, a slow one is not',
  () => {
    beforeEach(() => {
      keyPrefix = randomKeyPrefix('test-takeover');
      admin = new Redis(redisUrl);
    });
    afterEach(async () => {
      await deployment?.kill();
      deployment = undefined;
      admin.disconnect();
      await deleteKeysUnder(redisUrl, keyPrefix);
      await dropPostgresSchema(keyPrefix);
    });

    const start = (env: Record<string, string> = {}) =>
      startDeployment('receiver + 2 workers', {
        QUEUE: 'redis',
        STORE: 'postgres',
        REDIS_URL: redisUrl,
        DATABASE_URL: postgresUrlForProcesses(),
        KEY_PREFIX: keyPrefix,
        ...env,
      });

    /** The pending entries of a worker process's consumer: [entry id, consumer, idle ms, deliveries]. */
    const pendingOf = async (worker: ReceiverProcess) => {
      const keys = queueKeys(keyPrefix);
      const pending = (await admin.xpending(keys.stream, keys.group, '-', '+', 1000)) as [
        string,
        string,
        number,
        number,
      ][];
      return pending.filter(([, consumer]) => consumer.includes(`-${worker.pid}-`));
    };
    const messageIdOf = async (entryId: string) => {
      const [entry] = await admin.xrange(queueKeys(keyPrefix).stream, entryId, entryId);
      const fields = entry?.[1] ?? [];
      return String(fields[fields.indexOf('message_id') + 1]);
    };

    it('applies what a worker killed mid-apply held on the other worker, losing nothing', {
      timeout: 120_000,
    }, async () => {
      deployment = await start();
      const [survivor, victim] = deployment.workers as [ReceiverProcess, ReceiverProcess];
      const traffic = makeTraffic({ seed: 7, batches: 120, usersPerBatch: [1000, 4000], userPool: 20_000 });
      const sender = startSender({ url: deployment.webhookUrl, batches: traffic.sends });

      // Mid-apply: it has applied some, and holds read entries it has not acknowledged.
      await eventually(
        async () => appliedBy(victim).length >= 3 && (await pendingOf(victim)).length > 0,
        'the victim to hold unacknowledged batches',
        60_000,
      );
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      await victim.exited;
      // What it held at the kill (it could not take more after it).
      const held = await pendingOf(victim);
      const heldMessages = await Promise.all(held.map(([id]) => messageIdOf(id)));
      expect(heldMessages.length).toBeGreaterThan(0);

      const report = await sender.done;
      expect(report.givenUp).toEqual([]);
      await eventually(
        () => redisQueueEmpty(redisUrl, keyPrefix),
        'the stream to be fully acknowledged',
        60_000,
      );

      // The entries leave the stream at the ack; the survivor's log lines come through a pipe after.
      const appliedBySurvivor = () =>
        survivor.logLines.filter(
          (line) => line.msg === 'batch applied' && heldMessages.includes(String(line.message_id)),
        );
      await eventually(
        async () => new Set(appliedBySurvivor().map((line) => line.message_id)).size >= heldMessages.length,
        "the survivor's 'batch applied' lines",
      );
      const bySurvivor = survivor.logLines.filter((line) => line.msg === 'batch applied');
      const takenOver = bySurvivor.filter((line) => heldMessages.includes(String(line.message_id)));
      expect(takenOver.map((line) => String(line.message_id)).sort()).toEqual([...heldMessages].sort());
      const times = takenOver.map((line) => Number(line.time) - killedAt);
      console.log(
        `takeover: ${heldMessages.length} batches held by the killed worker applied by the other ` +
          `${Math.min(...times)}-${Math.max(...times)} ms after the kill`,
      );

      const diff = await awaitMembership(survivor.url, report.acknowledged);
      expect(describeDiff(diff)).toBe('no difference');
    });

    it('never claims a batch whose long apply is still running on a live worker', {
      timeout: 120_000,
    }, async () => {
      const claimIdleMs = 500;
      deployment = await start({ REDIS_CLAIM_IDLE_MS: String(claimIdleMs) });
      const users = Array.from({ length: 100_000 }, (_, i) => ({ userId: `slow-${i.toString(36)}-${i}` }));
      const batch: CohortBatch = {
        cohortId: 'slow',
        cohortName: 'Slow',
        inCohort: true,
        computedTime: 1_700_000_000,
        messageId: `slow-${keyPrefix}`,
        users,
      };
      const answer = await fetch(`${deployment.webhookUrl}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: webhookBody(batch),
      });
      expect(answer.status).toBe(200);

      // Redis' view while it is applied: who holds the entry, and how often it was delivered.
      const keys = queueKeys(keyPrefix);
      const holders = new Set<string>();
      let mostDeliveries = 0;
      while ((await admin.xlen(keys.stream)) > 0) {
        const pending = (await admin.xpending(keys.stream, keys.group, '-', '+', 10)) as [
          string,
          string,
          number,
          number,
        ][];
        for (const [, consumer, , deliveries] of pending) {
          holders.add(consumer);
          mostDeliveries = Math.max(mostDeliveries, deliveries);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(holders.size).toBe(1);
      expect(mostDeliveries).toBe(1);

      // The entry leaves the stream at the ack; the worker's log line reaches us through a pipe after.
      const appliedLines = () =>
        (deployment?.workers ?? []).flatMap((worker) =>
          worker.logLines.filter((line) => line.msg === 'batch applied'),
        );
      await eventually(async () => appliedLines().length > 0, "the worker's 'batch applied' line");
      const lines = appliedLines();
      expect(lines.map((line) => line.message_id)).toEqual([batch.messageId]);
      // The premise: the apply outlasted the claim idle several times over (else nothing was tested).
      expect(Number(lines[0]?.lag_ms)).toBeGreaterThan(2 * claimIdleMs);
      console.log(
        `long apply: ${lines[0]?.lag_ms} ms with REDIS_CLAIM_IDLE_MS=${claimIdleMs}, held by one worker`,
      );

      const diff = await awaitMembership(deployment.readUrl, [batch]);
      expect(describeDiff(diff)).toBe('no difference');
    });
  },
);
