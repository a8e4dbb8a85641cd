import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { listCohortsScript } from '../../src/redis/lua/list-cohorts.ts';
import { listMembersScript } from '../../src/redis/lua/list-members.ts';
import { userCohortsScript } from '../../src/redis/lua/user-cohorts.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { storeKeys } from '../../src/redis/store-keys.ts';
import { readOnlyScript, runScript } from '../../src/runtime/redis-script.ts';
import { allMembers, describeStoreContract } from '../store/contract.ts';
import { cohortBatch, usersOf } from '../support/cohort-batch.ts';
import { describeWithService, redisUrl } from '../support/services.ts';

const randomPrefix = () => `test-store-${randomBytes(6).toString('hex')}`;

/**
 * Deletes every key of the store under `keyPrefix`: the two indexes and each listed cohort's keys.
 * (Not a SCAN: on a shared Redis holding millions of keys that takes seconds per test.)
 */
async function removeKeys(admin: Redis, keyPrefix: string): Promise<void> {
  const keys = storeKeys(keyPrefix);
  const cohortIds = await admin.zrange(keys.cohorts, '0', '-1');
  const perCohort = cohortIds.flatMap((id) => [keys.cohort(id), keys.registers(id), keys.members(id)]);
  await admin.unlink(keys.cohorts, keys.userCohorts, ...perCohort);
}

await describeWithService('redis', 'Redis store', () => {
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(redisUrl);
  });
  afterAll(async () => {
    await admin.quit();
  });

  describeStoreContract('redis', async () => {
    const keyPrefix = randomPrefix();
    return {
      store: createRedisStore({ url: redisUrl, keyPrefix }),
      cleanup: () => removeKeys(admin, keyPrefix),
    };
  });

  const opened: { store: MembershipStore; keyPrefix: string }[] = [];
  const open = (keyPrefix = randomPrefix(), url = redisUrl) => {
    const store = createRedisStore({ url, keyPrefix, connectTimeoutMs: 500 });
    opened.push({ store, keyPrefix });
    return store;
  };
  afterEach(async () => {
    for (const { store, keyPrefix } of opened.splice(0)) {
      await store.close();
      await removeKeys(admin, keyPrefix);
    }
  });

  it('runs its read scripts read-only: Redis refuses a write from one', async () => {
    for (const script of [listCohortsScript, listMembersScript, userCohortsScript]) {
      expect(script.lua.startsWith('#!lua flags=no-writes\n'), script.name).toBe(true);
    }
    const key = `${randomPrefix()}:store:probe`;
    const writer = readOnlyScript('store-test-write', 1, "return redis.call('SET', KEYS[1], 'x')");
    await expect(runScript(admin, writer, [key])).rejects.toThrow(/Write commands are not allowed/);
    expect(await admin.exists(key)).toBe(0);
  });

  it('keeps every key under KEY_PREFIX', async () => {
    const keyPrefix = randomPrefix();
    const store = open(keyPrefix);
    const marker = randomBytes(6).toString('hex');
    await store.applyBatch(
      cohortBatch({ cohortId: `c-${marker}`, users: usersOf(`u-${marker}`, `v-${marker}`) }),
    );
    const [, keys] = await admin.scan('0', 'MATCH', `*${marker}*`, 'COUNT', 1_000_000);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith(`${keyPrefix}:store:`), key).toBe(true);
    // And the tests' clean-up finds every one of them.
    await removeKeys(admin, keyPrefix);
    expect((await admin.scan('0', 'MATCH', `*${marker}*`, 'COUNT', 1_000_000))[1]).toEqual([]);
  });

  it('applies a 10,000-user batch with properties in one call, and pages through it', async () => {
    const store = open();
    const users = Array.from({ length: 10_000 }, (_, i) => ({
      userId: `user-${String(i).padStart(5, '0')}`,
      properties: { plan: i % 2 ? 'pro' : 'free', 'odd|key': '|1|x|' },
    }));
    const changes = await store.applyBatch(cohortBatch({ users }));
    expect(changes).toHaveLength(10_000);
    expect((await store.listCohorts())[0]?.members).toBe(10_000);
    const page = await store.listMembers('c1', { limit: 5000 });
    expect(page.members).toHaveLength(5000);
    expect(page.members[4999]).toEqual({
      userId: 'user-04999',
      since: 100,
      messageId: expect.any(String),
      properties: users[4999]?.properties,
    });
    expect((await allMembers(store, 'c1', 3000)).map((member) => member.userId)).toEqual(
      users.map((user) => user.userId),
    );
  });

  it('keeps message ids and ids holding the separator, NUL and non-ASCII bytes intact', async () => {
    const store = open();
    const odd = ['a|b', 'nul\u0000inside', '1|2|3|', 'é\u{1F600}'];
    for (const id of odd) {
      await store.applyBatch(
        cohortBatch({ cohortId: id, messageId: id, users: [{ userId: id, properties: { messageId: id } }] }),
      );
    }
    for (const id of odd) {
      expect(await allMembers(store, id)).toEqual([
        { userId: id, since: 100, messageId: id, properties: { messageId: id } },
      ]);
      expect(await store.userCohorts(id)).toEqual([{ cohortId: id, cohortName: 'Cohort one', since: 100 }]);
    }
    // The same message again is stale, whatever its bytes.
    expect(
      await store.applyBatch(cohortBatch({ cohortId: 'a|b', messageId: 'a|b', users: usersOf('a|b') })),
    ).toEqual([]);
  });

  it('fails applyBatch and check() with an error naming the server when Redis is unreachable', async () => {
    const store = open(randomPrefix(), 'redis://127.0.0.1:1');
    await expect(store.applyBatch(cohortBatch())).rejects.toThrow(
      /Redis store at redis:\/\/127\.0\.0\.1:1 could not apply a batch: .*ECONNREFUSED/,
    );
    await expect(store.check()).rejects.toThrow(/could not answer PING/);
    await expect(store.listCohorts()).rejects.toThrow(/could not list cohorts/);
  });

  it('keeps its state across a dropped connection and across closing and reopening', async () => {
    const keyPrefix = randomPrefix();
    const store = open(keyPrefix);
    await store.applyBatch(cohortBatch({ users: [{ userId: 'u1', properties: { plan: 'pro' } }] }));
    await store.applyBatch(cohortBatch({ inCohort: false, computedTime: 200, users: usersOf('u2') }));

    // The server drops the store's connection; the client reconnects by itself.
    const clients = await admin.client('LIST');
    const id = /id=(\d+) .*name=(\S+)/.exec(
      String(clients)
        .split('\n')
        .find((line) => line.includes(`name=${keyPrefix}:store `)) ?? '',
    )?.[1];
    expect(id).toBeDefined();
    await admin.client('KILL', 'ID', id as string);
    await expect
      .poll(
        () =>
          store.check().then(
            () => 'ready',
            () => 'down',
          ),
        { timeout: 5000 },
      )
      .toBe('ready');
    expect(await allMembers(store, 'c1')).toEqual([
      { userId: 'u1', since: 100, messageId: expect.any(String), properties: { plan: 'pro' } },
    ]);

    await store.close();
    const reopened = open(keyPrefix);
    expect(await reopened.listCohorts()).toEqual([
      { cohortId: 'c1', cohortName: 'Cohort one', members: 1, updatedAt: 200 },
    ]);
    // The tombstone survived: an older add of u2 still loses.
    expect(await reopened.applyBatch(cohortBatch({ computedTime: 150, users: usersOf('u2') }))).toEqual([]);
  });
});
