/**
 * GET /cohorts/:cohort_id/members.csv and .ndjson (src/core/http/member-export.ts) on each of the
 * four stores: hostile ids and properties round-trip through a real CSV parser (csv-parse) and
 * JSON.parse, in user_id order, across pages; the secret, an unknown cohort and the file name; and,
 * on real sockets, the reading held back by the client, stopped when it leaves, and a download that
 * fails (never ends short) when the store goes away mid-way. Then the inspector's links to both.
 */
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { userIdFor } from '../../bench/user-ids.ts';
import type { CohortUser } from '../../src/core/batch.ts';
import { contentDisposition, exportPageSize } from '../../src/core/http/member-export.ts';
import { createMemoryStore } from '../../src/core/store/memory.ts';
import { compareCodePoints } from '../../src/core/store/register.ts';
import type { Member, MembershipStore } from '../../src/core/store/store.ts';
import { createPostgresStore } from '../../src/postgres/store.ts';
import { createRedisStore } from '../../src/redis/store.ts';
import { openSqliteDatabase } from '../../src/sqlite/database.ts';
import { createSqliteStore } from '../../src/sqlite/store.ts';
import { redisServerProbe, startPrivateRedis } from '../faults/redis-server.ts';
import { createInspectorHarness, textOf } from '../inspect/harness.ts';
import { cohortBatch } from '../support/cohort-batch.ts';
import { describeWithService } from '../support/services.ts';
import { createTempDir } from '../support/tmp.ts';
import {
  type CsvRecord,
  type OpenedStore,
  openStore,
  parseCsv,
  readApiApp,
  receiverApp,
  type StoreKind,
  serve,
} from './member-export-harness.ts';

const computedTime = 1_692_206_763;
const secret = 'member-export-test-secret';
const bearer = { authorization: `Bearer ${secret}` };

/** A cohort id that needs escaping in a path, in a quoted file name and in CSV. */
const hostileCohortId = 'co,h"ort/ü\\😀';

/** Ids and properties that CSV must quote (commas, quotes, CR, LF), and code point order traps. */
const hostileUsers: CohortUser[] = [
  { userId: 'plain' },
  { userId: 'a,b', properties: { note: 'a,b' } },
  { userId: 'say "hi"', properties: { quote: 'he said "no", then left' } },
  { userId: '"' },
  { userId: ',' },
  { userId: 'line\nbreak', properties: { text: 'first\nsecond' } },
  { userId: 'cr\ronly', properties: { text: 'first\rsecond' } },
  { userId: 'crlf\r\nboth', properties: { text: 'first\r\nsecond', nested: { list: [1, 'two', null] } } },
  { userId: ' spaced ', properties: { padded: '  both ends  ' } },
  { userId: 'tab\there' },
  { userId: 'naïve café', properties: { city: 'Zürich', emoji: '🎉' } },
  { userId: '中文用户' },
  // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 unit: the stores' order is code points.
  { userId: 'x\uff5e' },
  { userId: 'x😀', properties: { '"key",\r\n': 'value, "quoted"' } },
  { userId: '=SUM(A1:A2)' },
  { userId: '12345', properties: { n: 12345, f: 1.5, yes: true, none: null } },
];

/** A member as the export writes it: no message id. */
type Exported = Omit<Member, 'messageId'>;

/** What the export must list for `users` added at `since`: in code point order. */
const expectedMembers = (users: CohortUser[], since = computedTime): Exported[] =>
  users
    .map((user) => ({ userId: user.userId, since, properties: user.properties ?? null }))
    .sort((a, b) => compareCodePoints(a.userId, b.userId));

const fromCsv = (record: CsvRecord): Exported => ({
  userId: record.user_id,
  since: Number(record.since),
  properties: record.user_properties === '' ? null : JSON.parse(record.user_properties),
});

const fromNdjson = (text: string): Exported[] => {
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(record)).toEqual(['user_id', 'since', 'user_properties']);
      return {
        userId: record.user_id as string,
        since: record.since as number,
        properties: record.user_properties as Exported['properties'],
      };
    });
};

const pathOf = (cohortId: string) => `/cohorts/${encodeURIComponent(cohortId)}/members`;

/** The ids the paged JSON route lists, page after page. */
async function jsonRouteIds(
  app: { request: (path: string) => Response | Promise<Response> },
  cohortId: string,
) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const body = (await (await app.request(`${pathOf(cohortId)}?limit=1000${query}`)).json()) as {
      members: { user_id: string }[];
      next_cursor: string | null;
    };
    ids.push(...body.members.map((member) => member.user_id));
    cursor = body.next_cursor;
  } while (cursor !== null);
  return ids;
}

/** `count` users with random-order ids, every third with properties. */
const randomUsers = (count: number, from = 0): CohortUser[] =>
  Array.from({ length: count }, (_, i) => ({
    userId: userIdFor(from + i, 'uuid'),
    ...(i % 3 === 0 && { properties: { plan: i % 2 ? 'pro' : 'free', seats: i } }),
  }));

function describeStore(kind: StoreKind) {
  const opened: OpenedStore[] = [];
  const open = async () => {
    const made = await openStore(kind);
    opened.push(made);
    return made.store;
  };
  afterEach(async () => {
    for (const made of opened.splice(0)) await made.cleanup();
  });

  it('round-trips hostile ids and properties through csv-parse, in user_id order, page after page', async () => {
    const store = await open();
    await store.applyBatch(cohortBatch({ cohortId: hostileCohortId, computedTime, users: hostileUsers }));
    // Pages of 4: the 16 members take 4 pages, and a cursor after each hostile id.
    const { app } = readApiApp(store, 4);
    const response = await app.request(`${pathOf(hostileCohortId)}.csv`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const text = await response.text();
    expect(text.startsWith('user_id,since,user_properties\r\n')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const { header, records } = parseCsv(text);
    expect(header).toEqual(['user_id', 'since', 'user_properties']);
    expect(records.map(fromCsv)).toEqual(expectedMembers(hostileUsers));
    // The order the paged JSON route gives, i.e. the store's.
    expect(records.map((record) => record.user_id)).toEqual(await jsonRouteIds(app, hostileCohortId));
  });

  it('round-trips the same members through NDJSON, one JSON object a line', async () => {
    const store = await open();
    await store.applyBatch(cohortBatch({ cohortId: hostileCohortId, computedTime, users: hostileUsers }));
    const { app } = readApiApp(store, 4);
    const response = await app.request(`${pathOf(hostileCohortId)}.ndjson`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(fromNdjson(await response.text())).toEqual(expectedMembers(hostileUsers));
  });

  it('streams more members than one page behind the secret, as the receiver serves it', async () => {
    const store = await open();
    const users = randomUsers(2 * exportPageSize + 17);
    await store.applyBatch(cohortBatch({ cohortId: 'big', computedTime, users }));
    const { app } = receiverApp(store, [secret]);
    const expected = expectedMembers(users);

    const csv = await app.request('/cohorts/big/members.csv', { headers: bearer });
    expect(csv.status).toBe(200);
    expect(parseCsv(await csv.text()).records.map(fromCsv)).toEqual(expected);
    const ndjson = await app.request(`/cohorts/big/members.ndjson?token=${secret}`);
    expect(ndjson.status).toBe(200);
    expect(fromNdjson(await ndjson.text())).toEqual(expected);

    for (const format of ['csv', 'ndjson']) {
      for (const headers of [{}, { authorization: 'Bearer wrong-secret' }]) {
        const refused = await app.request(`/cohorts/big/members.${format}`, { headers });
        expect(refused.status).toBe(401);
        expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await refused.json()).toEqual({ error: 'unauthorized' });
      }
    }
  });

  it('answers an unknown cohort as the members route does: 200 and no members', async () => {
    const store = await open();
    await store.applyBatch(cohortBatch({ cohortId: 'known', users: randomUsers(3) }));
    const { app } = receiverApp(store, [secret]);
    const json = await app.request('/cohorts/unknown/members', { headers: bearer });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ members: [], next_cursor: null });

    const csv = await app.request('/cohorts/unknown/members.csv', { headers: bearer });
    expect(csv.status).toBe(200);
    expect(await csv.text()).toBe('user_id,since,user_properties\r\n');
    const ndjson = await app.request('/cohorts/unknown/members.ndjson', { headers: bearer });
    expect(ndjson.status).toBe(200);
    expect(await ndjson.text()).toBe('');
  });
}

describe('member export: memory store', () => describeStore('memory'));
describe('member export: SQLite store', () => describeStore('sqlite'));
await describeWithService('redis', 'member export: Redis store', () => describeStore('redis'));
await describeWithService('postgres', 'member export: Postgres store', () => describeStore('postgres'));

/** Parses `Content-Disposition`: the quoted `filename` and the decoded `filename*`, if any. */
function fileNames(header: string | null) {
  const quoted = /^attachment; filename="([^"]*)"(?:; filename\*=UTF-8''([^;\s]+))?$/.exec(header ?? '');
  if (!quoted) throw new Error(`unexpected Content-Disposition: ${header}`);
  return {
    filename: quoted[1],
    extended: quoted[2] === undefined ? undefined : decodeURIComponent(quoted[2]),
  };
}

describe('member export: the file name', () => {
  it('names a plain id as is, with no filename*', async () => {
    const { app } = readApiApp(createMemoryStore());
    const response = await app.request('/cohorts/q3k9xw1/members.csv');
    expect(response.headers.get('content-disposition')).toBe(
      'attachment; filename="cohort-q3k9xw1-members.csv"',
    );
    const ndjson = await app.request('/cohorts/q3k9xw1/members.ndjson');
    expect(ndjson.headers.get('content-disposition')).toBe(
      'attachment; filename="cohort-q3k9xw1-members.ndjson"',
    );
  });

  it('keeps a hostile id inside the quoted form, and whole (but for separators) in filename*', async () => {
    const { app } = readApiApp(createMemoryStore());
    const hostile = 'a"b\\c/d%e;f=g 中文😀\r\nSet-Cookie: x=1\u0000\u007f\'()*';
    const response = await app.request(`${pathOf(hostile)}.csv`);
    expect(response.status).toBe(200);
    const header = response.headers.get('content-disposition');
    const { filename, extended } = fileNames(header);
    // Printable ASCII only, and nothing that ends or escapes the quoted string or reads as %XX.
    expect(filename).toMatch(/^[\u0020-\u007e]+$/);
    expect(filename).not.toMatch(/["\\%]/);
    expect(filename).toBe("cohort-a_b_c_d_e;f=g _____Set-Cookie: x=1__'()*-members.csv");
    expect(extended).toBe('cohort-a"b_c_d%e;f=g 中文😀__Set-Cookie: x=1__\'()*-members.csv');
    // RFC 5987 attr-chars only after UTF-8'' (the quote and parentheses percent-encoded).
    expect(header?.split("UTF-8''")[1]).toMatch(/^[A-Za-z0-9!#$&+.^_`|~%-]+$/);
  });

  it('encodes a lone surrogate as U+FFFD instead of throwing', () => {
    expect(fileNames(contentDisposition('cohort-\ud800-members.csv')).extended).toBe(
      'cohort-\ufffd-members.csv',
    );
  });
});

/** The store with its listMembers calls counted. */
function counted(store: MembershipStore) {
  let calls = 0;
  const wrapped: MembershipStore = {
    ...store,
    listMembers: (cohortId, request) => {
      calls += 1;
      return store.listMembers(cohortId, request);
    },
  };
  return { store: wrapped, calls: () => calls };
}

/** Resolves once `read` gives the same number for `quietMs` (the server waits on the client). */
async function settled(read: () => number, quietMs = 200): Promise<number> {
  let last = read();
  for (;;) {
    await sleep(quietMs);
    const now = read();
    if (now === last) return now;
    last = now;
  }
}

/** Starts a GET of `url`, resolving with the response once its head arrived. */
function startGet(url: string): Promise<{ response: IncomingMessage; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => resolve({ response, destroy: () => request.destroy() }));
    request.once('error', reject);
  });
}

describe('member export: pulled by the client', () => {
  it('reads the next page only when the client takes the previous one, and none after it cancels', async () => {
    const memory = createMemoryStore();
    await memory.applyBatch(cohortBatch({ cohortId: 'c', users: randomUsers(50) }));
    const { store, calls } = counted(memory);
    const { app, logLines } = readApiApp(store, 5);
    const response = await app.request('/cohorts/c/members.csv');
    // The first page was read before the answer: a store away then is a 503, not a broken file.
    expect(calls()).toBe(1);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await sleep(20);
    expect(calls()).toBe(1);
    await reader.read();
    await sleep(20);
    expect(calls()).toBe(2);
    await reader.cancel();
    await sleep(20);
    expect(calls()).toBe(2);
    expect(logLines).toContainEqual(
      expect.objectContaining({ msg: 'member export stopped: the client left', rows: 10, pages: 2 }),
    );
  });

  it('over a socket: holds the reading while the client does not read, stops when it disconnects', async () => {
    const memory = createMemoryStore();
    const padding = 'p'.repeat(1000);
    const users = Array.from({ length: 20_000 }, (_, i) => ({ userId: `u${i}`, properties: { padding } }));
    await memory.applyBatch(cohortBatch({ cohortId: 'wide', users }));
    const { store, calls } = counted(memory);
    // 200 pages of 100 members, about 100 KB each: far more than the socket buffers hold.
    const { app, logLines } = readApiApp(store, 100);
    const server = await serve(app);
    try {
      const { response, destroy } = await startGet(`${server.url}/cohorts/wide/members.csv`);
      expect(response.statusCode).toBe(200);
      response.pause();
      // The client reads nothing: the server fills the socket's buffers, then waits.
      const held = await settled(calls);
      expect(held).toBeLessThan(200);
      destroy();
      await expect
        .poll(() => logLines.some((line) => line.msg === 'member export stopped: the client left'))
        .toBe(true);
      const atLeave = calls();
      await sleep(300);
      expect(calls()).toBe(atLeave);
      // At most the page being read when it left.
      expect(atLeave).toBeLessThanOrEqual(held + 1);
    } finally {
      await server.close();
    }
  });
});

describe('member export: the store away', () => {
  /** A Postgres store on a port nothing listens on: every read fails with StoreUnavailableError. */
  const awayStore = () =>
    createPostgresStore({
      connectionString: 'postgres://127.0.0.1:1/test',
      keyPrefix: 'export-away',
      connectTimeoutMs: 1000,
    });

  it('answers 503 with the read API’s JSON body before the first byte, as the members route does', async () => {
    const store = awayStore();
    try {
      const { app } = receiverApp(store, [secret]);
      const json = await app.request('/cohorts/c1/members', { headers: bearer });
      expect(json.status).toBe(503);
      const body = await json.json();
      expect(body).toEqual({ error: 'unavailable', reason: 'backend_unavailable' });
      for (const format of ['csv', 'ndjson']) {
        const response = await app.request(`/cohorts/c1/members.${format}`, { headers: bearer });
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        expect(response.headers.get('content-disposition')).toBeNull();
        expect(await response.json()).toEqual(body);
      }
    } finally {
      await store.close();
    }
  });

  it('errors the body in-process (no connection to cut) when the store fails mid-way', async () => {
    const dir = await createTempDir('export-closed');
    const db = openSqliteDatabase(join(dir.path, 'cohorts.db'));
    try {
      const store = createSqliteStore(db);
      await store.applyBatch(cohortBatch({ cohortId: 'c', users: randomUsers(30) }));
      await store.close();
      const { app, logLines } = readApiApp(store, 10);
      const reader = ((await app.request('/cohorts/c/members.ndjson')).body as ReadableStream).getReader();
      expect((await reader.read()).done).toBe(false);
      db.close();
      await expect(reader.read()).rejects.toThrow(/database connection is not open/);
      expect(logLines).toContainEqual(
        expect.objectContaining({
          msg: 'member export aborted: the store failed mid-stream',
          rows: 10,
          err: expect.stringMatching(/database connection is not open/),
        }),
      );
    } finally {
      if (db.open) db.close();
      await dir.remove();
    }
  });

  describe.skipIf(!redisServerProbe().available)('with a redis-server of its own', () => {
    it('cuts the download when the store goes away mid-way, and logs why', async () => {
      const dir = await createTempDir('export-away');
      const redis = await startPrivateRedis(dir.path);
      const redisStore = createRedisStore({ url: redis.url, keyPrefix: 'export', connectTimeoutMs: 500 });
      try {
        const padding = 'p'.repeat(2000);
        for (let batch = 0; batch < 5; batch++) {
          const users = Array.from({ length: 1000 }, (_, i) => ({
            userId: `u${batch * 1000 + i}`,
            properties: { padding },
          }));
          await redisStore.applyBatch(cohortBatch({ cohortId: 'c', users }));
        }
        const { store, calls } = counted(redisStore);
        const { app, logLines } = readApiApp(store, 100);
        const exporting = await serve(app);
        try {
          const { response } = await startGet(`${exporting.url}/cohorts/c/members.csv`);
          expect(response.statusCode).toBe(200);
          response.pause();
          // 50 pages of 200 KB: the server waits on the socket long before the last one.
          expect(await settled(calls)).toBeLessThan(50);
          await redis.stop();
          let bytes = 0;
          const failure = await new Promise<string>((resolve) => {
            response.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
            });
            response.once('error', (error) => resolve(`error: ${error.message}`));
            response.once('aborted', () => resolve('aborted'));
            response.once('end', () => resolve('ended'));
            response.resume();
          });
          expect(failure).not.toBe('ended');
          expect(response.complete).toBe(false);
          expect(bytes).toBeLessThan(5000 * 2000);
          const aborted = logLines.find(
            (line) => line.msg === 'member export aborted: the store failed mid-stream',
          );
          expect(aborted).toMatchObject({ cohort_id: 'c', format: 'csv' });
          expect(String(aborted?.err)).toMatch(/^Redis store at redis:\/\/127\.0\.0\.1:\d+ could not/);
          expect(aborted?.rows).toBeGreaterThan(0);
        } finally {
          await exporting.close();
        }
      } finally {
        await redisStore.close();
        await redis.stop();
        await dir.remove();
      }
    });
  });
});

describe('member export: the inspector', () => {
  it("links both downloads on the cohort page, served to a logged-in operator as the read API's", async () => {
    const store = createMemoryStore();
    await store.applyBatch(cohortBatch({ cohortId: hostileCohortId, computedTime, users: hostileUsers }));
    const h = createInspectorHarness({ store });
    const { cookie } = await h.login();
    const page = await textOf(
      await h.request(`/inspect/cohort?id=${encodeURIComponent(hostileCohortId)}`, { cookie }),
    );
    const downloads = /<dd id="member-downloads">(.*?)<\/dd>/s.exec(page)?.[1] ?? '';
    const links = [...downloads.matchAll(/href="([^"]+)"/g)].map((match) => match[1] ?? '');
    const id = encodeURIComponent(hostileCohortId);
    expect(links).toEqual([
      `/inspect/cohort/members.csv?id=${id}`,
      `/inspect/cohort/members.ndjson?id=${id}`,
    ]);

    const { app } = readApiApp(store);
    for (const link of links) {
      const format = link.includes('.csv') ? 'csv' : 'ndjson';
      const download = await h.request(link, { cookie });
      const fromReadApi = await app.request(`${pathOf(hostileCohortId)}.${format}`);
      expect(download.headers.get('content-type')).toBe(fromReadApi.headers.get('content-type'));
      expect(download.headers.get('content-disposition')).toBe(
        fromReadApi.headers.get('content-disposition'),
      );
      expect(await textOf(download)).toBe(await fromReadApi.text());
    }
  });

  it('refuses a download without a session, and asks for the cohort id', async () => {
    const h = createInspectorHarness({ store: createMemoryStore() });
    const asBrowser = await h.request('/inspect/cohort/members.csv?id=c1');
    expect(asBrowser.status).toBe(303);
    expect(asBrowser.headers.get('location')).toMatch(/^\/inspect\/login\?next=/);
    const asProgram = await h.request('/inspect/cohort/members.ndjson?id=c1', {
      headers: { accept: 'application/json' },
    });
    expect(asProgram.status).toBe(401);
    expect(await asProgram.json()).toMatchObject({ error: 'login_required' });

    const { cookie } = await h.login();
    const noId = await h.request('/inspect/cohort/members.csv', {
      cookie,
      headers: { accept: 'application/json' },
    });
    expect(noId.status).toBe(400);
    expect(await noId.json()).toMatchObject({ error: 'cohort_id_required' });

    // ROLE=receiver: no store to export from.
    const receiverOnly = createInspectorHarness({ store: undefined });
    const session = await receiverOnly.login();
    const noStore = await receiverOnly.request('/inspect/cohort/members.csv?id=c1', {
      cookie: session.cookie,
      headers: { accept: 'application/json' },
    });
    expect(noStore.status).toBe(409);
    expect(await noStore.json()).toMatchObject({ error: 'no_store' });
  });

  it("answers 503 in the inspector's JSON shape when the store is away", async () => {
    const store = createPostgresStore({
      connectionString: 'postgres://127.0.0.1:1/test',
      keyPrefix: 'export-away',
      connectTimeoutMs: 1000,
    });
    try {
      const h = createInspectorHarness({ store });
      const { cookie } = await h.login();
      const response = await h.request('/inspect/cohort/members.csv?id=c1', {
        cookie,
        headers: { accept: 'application/json' },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toMatchObject({ error: 'backend_unavailable' });
    } finally {
      await store.close();
    }
  });
});
