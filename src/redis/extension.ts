/**
 * @module The scale-out backend: a Redis (REDIS_URL) holds the queue (QUEUE=redis) with its dedupe
 * marks and dead letters, and can hold the store (STORE=redis). Every process of a deployment
 * shares it.
 */
import { z } from 'zod';
import { defineExtension, type OpenedHome, queueIn } from '../runtime/extension.ts';
import { throttledWarning } from '../runtime/logger.ts';
import { redactUrl } from '../runtime/redact-url.ts';
import { integer } from '../runtime/settings.ts';
import { connectRedis, waitUntilReady } from './connection.ts';
import { createRedisDeadLetters } from './dead-letters.ts';
import { redisStoreRecipe } from './open-store.ts';
import { createRedisQueue, defaultClaimIdleMs } from './queue.ts';

/** How long start-up waits for Redis before going on unready (it keeps reconnecting; /readyz says so). */
const startWaitMs = 3000;

const settings = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  // QUEUE=redis: how long a batch may go without its worker's heartbeat before another claims it.
  REDIS_CLAIM_IDLE_MS: integer(defaultClaimIdleMs, 100),
});

export const redis = defineExtension({
  name: 'redis',
  settings,
  use({ REDIS_URL: url, REDIS_CLAIM_IDLE_MS }) {
    return {
      queues: {
        redis: {
          where: (config) =>
            `Redis ${redactUrl(url, '(REDIS_URL, unparsable)')} (KEY_PREFIX=${config.KEY_PREFIX})`,
          open: async ({ logger, config }) => {
            const keyPrefix = config.KEY_PREFIX;
            // The error's message only: ioredis attaches the failed command, whose arguments hold the password.
            const warn = throttledWarning(logger, 'Redis connection failed; reconnecting', 30_000);
            const client = connectRedis(url, { onError: (error) => warn({ error: error.message }) });
            if (!(await waitUntilReady(client, startWaitMs))) {
              logger.error({ url: redactUrl(url) }, 'Redis is unreachable; starting unready');
            }
            const deadLetters = createRedisDeadLetters(client, {
              keyPrefix,
              maxPerKind: config.QUARANTINE_MAX,
            });
            const queue = createRedisQueue({
              redis: client,
              keyPrefix,
              dedupeTtlSeconds: config.DEDUPE_TTL_SECONDS,
              maxUsers: config.QUEUE_MAX_USERS,
              claimIdleMs: REDIS_CLAIM_IDLE_MS,
              onConsumeError: (error) =>
                logger.warn({ error: error.message }, 'reading the Redis queue failed; retrying'),
            });
            const home: OpenedHome = {
              deadLetters,
              home: { kind: 'redis', redis: client, keyPrefix },
              async close() {
                await deadLetters.close();
                client.disconnect();
              },
            };
            return queueIn(home, queue);
          },
        },
      },
      stores: { redis: (config) => redisStoreRecipe({ url, keyPrefix: config.KEY_PREFIX }) },
    };
  },
});
