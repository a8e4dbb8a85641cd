/**
 * Sink control end to end, in one process on the default durable files (QUEUE and STORE sqlite):
 * routing, pause across a restart, backfill (resumed after a restart, never overtaking a live
 * change), and the mass-exit guard with shuffled and repeated batches. The CRM is a real HTTP
 * server on 127.0.0.1.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../src/compose.ts';
import { loadConfig, startReceiver } from '../../src/compose.ts';
import type { WireChange } from '../../src/sinks/http.ts';
import { type Downstream, startDownstream } from '../sinks/downstream.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const token = 'sink-control-test-secret-0123456789';
const auth = { authorization: `Bearer ${token}` };

interface Batch {
  cohortId: string;
  messageId: string;
  inCohort: boolean;
  computedTime: number;
  userIds: string[];
}

const body = (batch: Batch) =>
  JSON.stringify({
    cohort_id: batch.cohortId,
    cohort_name: `Cohort ${batch.cohortId}`,
    message_id: batch.messageId,
    in_cohort: batch.inCohort,
    computed_time: String(batch.computedTime),
    users: batch.userIds.map((user_id) => ({ user_id, user_properties: { plan: 'pro' } })),
  });

/** Random-looking ids, as Amplitude's are. */
const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${((i * 2_654_435_761) % 1_000_003).toString(36)}-${i}`);

const delivered = (downstream: Downstream) =>
  downstream.accepted().flatMap((request) => (request.body as { changes: WireChange[] }).changes);

function shuffle<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('sink control', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function directory() {
    const dir: TempDir = await createTempDir('sink-control');
    cleanups.push(() => dir.remove());
    return dir.path;
  }

  async function downstream() {
    const server = await startDownstream();
    cleanups.push(() => server.close());
    return server;
  }

  async function start(path: string, env: Record<string, string>) {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_TOKENS: token,
      SQLITE_PATH: `${path}/cohorts.db`,
      SHUTDOWN_TIMEOUT_MS: '5000',
      ...env,
    });
    const receiver: RunningReceiver = await startReceiver(
      config,
      pino({ level: process.env.TEST_LOG ?? 'silent' }),
    );
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await receiver.shutdown();
    };
    cleanups.push(stop);
    await receiver.ready;
    const call = async (method: string, route: string) => {
      const response = await fetch(`${receiver.url}${route}`, { method, headers: auth });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const post = async (batch: Batch) => {
      const response = await fetch(`${receiver.url}/webhook`, {
        method: 'POST',
        headers: auth,
        body: body(batch),
      });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { status: string };
      await fetch(`${receiver.url}/cohorts?after=${encodeURIComponent(batch.messageId)}`, { headers: auth });
      return answer;
    };
    const sinks = async () => (await call('GET', '/sinks')).body as { sinks: SinkJson[]; holds: HoldJson[] };
    const members = async (cohortId: string) => {
      const response = await fetch(`${receiver.url}/cohorts/${cohortId}/members?limit=1000`, {
        headers: auth,
      });
      return ((await response.json()) as { members: unknown[] }).members.length;
    };
    return { receiver, call, post, sinks, stop, members };
  }

  interface SinkJson {
    name: string;
    paused: { by: string } | null;
    waiting: number;
    held: number;
    backfill: { sent: number; total: number } | null;
  }
  interface HoldJson {
    cohort_id: string;
    members_at_open: number;
    exits: number;
  }

  it('routes each sink only the cohorts and directions it names', async () => {
    const path = await directory();
    const [crm, mail] = [await downstream(), await downstream()];
    const { post, receiver } = await start(path, {
      SINKS: 'http:crm,http:mail',
      SINK_HTTP_CRM_URL: crm.url,
      SINK_HTTP_CRM_COHORTS: 'trial*,Cohort vip',
      SINK_HTTP_MAIL_URL: mail.url,
      SINK_HTTP_MAIL_DIRECTIONS: 'left',
    });
    await post({
      cohortId: 'trial-7',
      messageId: 'a',
      inCohort: true,
      computedTime: 10,
      userIds: ['u1', 'u2'],
    });
    await post({ cohortId: 'vip', messageId: 'b', inCohort: true, computedTime: 10, userIds: ['u3'] });
    await post({ cohortId: 'other', messageId: 'c', inCohort: true, computedTime: 10, userIds: ['u4'] });
    await post({ cohortId: 'other', messageId: 'd', inCohort: false, computedTime: 20, userIds: ['u4'] });
    await post({ cohortId: 'trial-7', messageId: 'e', inCohort: false, computedTime: 20, userIds: ['u1'] });

    const pairs = (server: Downstream) =>
      delivered(server).map((change) => `${change.cohort_id}/${change.user_id}/${change.kind}`);
    expect(pairs(crm).sort()).toEqual([
      'trial-7/u1/entered',
      'trial-7/u1/left',
      'trial-7/u2/entered',
      'vip/u3/entered',
    ]);
    expect(pairs(mail).sort()).toEqual(['other/u4/left', 'trial-7/u1/left']);
    // Unrouted changes never reach a sink's metrics either.
    const metrics = await (await fetch(`${receiver.url}/metrics`, { headers: auth })).text();
    const sent = (sink: string) =>
      metrics
        .split('\n')
        .filter(
          (line) => line.startsWith('cohort_receiver_sink_changes_total') && line.includes(`sink="${sink}"`),
        )
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(sent('http-crm')).toBe(4);
    expect(sent('http-mail')).toBe(2);
  });

  it('refuses a bad route at start-up with one line naming the variable', () => {
    expect(() =>
      loadConfig({
        SINKS: 'http',
        SINK_HTTP_URL: 'http://127.0.0.1:1/x',
        SINK_HTTP_DIRECTIONS: 'entered,gone',
      }),
    ).toThrow(/SINK_HTTP_DIRECTIONS: unknown direction "gone"; known: entered, left, updated/);
    expect(() =>
      loadConfig({ SINKS: 'http', SINK_HTTP_URL: 'http://127.0.0.1:1/x', SINK_HTTP_COHORTS: ' , ' }),
    ).toThrow(/SINK_HTTP_COHORTS: name at least one cohort id or glob/);
    expect(() => loadConfig({ SINK_GUARD_MAX_EXIT_RATIO: '1.5' })).toThrow(
      /SINK_GUARD_MAX_EXIT_RATIO: must be at most 1/,
    );
  });

  it('keeps a paused sink’s changes across a restart and sends them, in order, on resume', async () => {
    const path = await directory();
    const crm = await downstream();
    const env = { SINKS: 'http', SINK_HTTP_URL: crm.url };
    const first = await start(path, env);
    expect((await first.call('POST', '/sinks/http/pause')).status).toBe(200);
    await first.post({
      cohortId: 'c',
      messageId: 'm1',
      inCohort: true,
      computedTime: 10,
      userIds: ['u1', 'u2'],
    });
    await first.post({ cohortId: 'c', messageId: 'm2', inCohort: false, computedTime: 20, userIds: ['u1'] });
    await until(async () => (await first.sinks()).sinks[0]?.waiting === 3, 'three changes waiting');
    expect(crm.requests).toEqual([]);
    await first.stop();

    const second = await start(path, env);
    const status = await second.sinks();
    expect(status.sinks[0]).toMatchObject({
      name: 'http',
      waiting: 3,
      paused: { by: expect.stringMatching(/^api /) },
    });
    await second.post({ cohortId: 'c', messageId: 'm3', inCohort: true, computedTime: 30, userIds: ['u1'] });
    expect(crm.requests).toEqual([]);
    expect((await second.call('POST', '/sinks/http/resume')).status).toBe(200);
    await crm.waitFor(() => delivered(crm).length === 4);
    expect(delivered(crm).map((change) => `${change.user_id}/${change.kind}/${change.message_id}`)).toEqual([
      'u1/entered/m1',
      'u2/entered/m1',
      'u1/left/m2',
      'u1/entered/m3',
    ]);
    await until(async () => (await second.sinks()).sinks[0]?.waiting === 0, 'the backlog to drain');
    // Drained: the next change goes straight out.
    await second.post({ cohortId: 'c', messageId: 'm4', inCohort: false, computedTime: 40, userIds: ['u2'] });
    await crm.waitFor(() => delivered(crm).length === 5);
  });

  it('answers unknown sinks 404, a second backfill 409, and no secret 401, with JSON that says why', async () => {
    const path = await directory();
    const crm = await downstream();
    const { call, post, receiver } = await start(path, { SINKS: 'http', SINK_HTTP_URL: crm.url });
    expect(await call('POST', '/sinks/nope/pause')).toEqual({
      status: 404,
      body: { error: 'unknown_sink', message: 'no sink named "nope"; SINKS names http' },
    });
    expect(await call('POST', '/holds/c/release')).toEqual({
      status: 404,
      body: { error: 'not_held', message: 'cohort "c" is not held' },
    });
    expect((await call('POST', '/sinks/http/backfill?cohort_id=missing')).body).toMatchObject({
      error: 'cohort_not_routed',
    });
    // Paused, a backfill waits: a second one is refused.
    await call('POST', '/sinks/http/pause');
    await post({ cohortId: 'c', messageId: 'm1', inCohort: true, computedTime: 10, userIds: ['u1'] });
    expect((await call('POST', '/sinks/http/backfill')).status).toBe(200);
    expect(await call('POST', '/sinks/http/backfill')).toEqual({
      status: 409,
      body: { error: 'backfill_running', message: 'sink "http" is already backfilling' },
    });
    const unauthenticated = await fetch(`${receiver.url}/sinks`, { method: 'GET' });
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toEqual({ error: 'unauthorized' });
    expect(crm.requests).toEqual([]);
  });

  it('backfills the routed cohorts’ members, resumes after a restart, and never overtakes a live change', async () => {
    const path = await directory();
    const members = ids('m', 1200);
    const plain = { SINKS: 'none' };
    const filling = await start(path, plain);
    await filling.post({
      cohortId: 'paid',
      messageId: 'p1',
      inCohort: true,
      computedTime: 10,
      userIds: members,
    });
    await filling.post({
      cohortId: 'free',
      messageId: 'f1',
      inCohort: true,
      computedTime: 10,
      userIds: ids('f', 50),
    });
    await filling.stop();

    // A slow CRM: 50 changes a request, 4 requests a second, so the backfill takes about 6 s.
    const crm = await downstream();
    const env = {
      SINKS: 'http',
      SINK_HTTP_URL: crm.url,
      SINK_HTTP_COHORTS: 'paid',
      SINK_HTTP_RATE_PER_SECOND: '4',
      SINK_HTTP_BATCH_SIZE: '50',
      SINK_HTTP_CONCURRENCY: '1',
    };
    const first = await start(path, env);
    const started = await first.call('POST', '/sinks/http/backfill');
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ backfill: { total: 1200, sent: 0 } });
    await until(
      async () => ((await first.sinks()).sinks[0]?.backfill?.sent ?? 0) >= 500,
      'part of the backfill',
    );
    await first.stop();
    const beforeRestart = delivered(crm).length;
    expect(beforeRestart).toBeLessThan(1200);

    const second = await start(path, env);
    const resumedFrom = (await second.sinks()).sinks[0]?.backfill?.sent ?? 0;
    expect(resumedFrom).toBeGreaterThanOrEqual(500);
    // A live removal while the backfill runs: it must reach the CRM after that user's backfilled entry.
    const leaving = members.at(-1) as string;
    await second.post({
      cohortId: 'paid',
      messageId: 'p2',
      inCohort: false,
      computedTime: 20,
      userIds: [leaving],
    });
    await until(
      async () => (await second.sinks()).sinks[0]?.backfill === null,
      'the backfill to end',
      60_000,
    );
    await crm.waitFor(() => delivered(crm).some((change) => change.message_id === 'p2'));

    const changes = delivered(crm);
    expect(changes.every((change) => change.cohort_id === 'paid')).toBe(true);
    const backfilled = changes.filter((change) => change.message_id === 'p1');
    expect(
      backfilled.every(
        (change) => change.kind === 'entered' && change.restated && change.computed_time === 10,
      ),
    ).toBe(true);
    expect(backfilled[0]?.user_properties).toEqual({ plan: 'pro' });
    // The leaving user is backfilled only if its page was read before the removal was applied.
    const backfilledUsers = new Set(backfilled.map((change) => change.user_id));
    expect(members.filter((user) => user !== leaving && !backfilledUsers.has(user))).toEqual([]);
    // The cursor is saved after each page of 500: a restart sends at most the page in flight again.
    expect(backfilled.length - backfilledUsers.size).toBeLessThanOrEqual(500);
    const last = changes.filter((change) => change.user_id === leaving).at(-1);
    expect(last).toMatchObject({ kind: 'left', message_id: 'p2' });
  });

  it('holds a cohort whose removals pass the ratio, whatever their order and repeats, until released', async () => {
    const path = await directory();
    const crm = await downstream();
    const { post, sinks, call, members } = await start(path, {
      SINKS: 'http',
      SINK_HTTP_URL: crm.url,
      SINK_GUARD_MIN_MEMBERS: '100',
      SINK_GUARD_MAX_EXIT_RATIO: '0.5',
    });
    const everyone = ids('g', 200);
    await post({ cohortId: 'g', messageId: 'add', inCohort: true, computedTime: 10, userIds: everyone });
    await crm.waitFor(() => delivered(crm).length === 200);

    // 80 removals (40%), sent shuffled and each twice, and a stale removal of 40 more: not tripped.
    const removals = shuffle(everyone.slice(0, 80));
    const small = [0, 1, 2, 3].map((i) => removals.slice(i * 20, i * 20 + 20));
    for (const [i, users] of shuffle([...small.entries(), ...small.entries()])) {
      await post({
        cohortId: 'g',
        messageId: `out-${i}`,
        inCohort: false,
        computedTime: 20 + i,
        userIds: users,
      });
    }
    await post({
      cohortId: 'g',
      messageId: 'stale',
      inCohort: false,
      computedTime: 5,
      userIds: everyone.slice(100, 140),
    });
    await crm.waitFor(() => delivered(crm).length === 280);
    expect((await sinks()).holds).toEqual([]);
    expect(await members('g')).toBe(120);

    // Another 40 (120 of the 200 the window opened with: 60%): the batch that crosses is held.
    await post({
      cohortId: 'g',
      messageId: 'out-big',
      inCohort: false,
      computedTime: 30,
      userIds: everyone.slice(80, 120),
    });
    await until(async () => (await sinks()).holds.length === 1, 'the hold');
    const [hold] = (await sinks()).holds;
    expect(hold).toMatchObject({ cohort_id: 'g', members_at_open: 200, exits: 120 });
    expect(await members('g')).toBe(80);
    // Held: later changes of the cohort wait too; another cohort's go out.
    await post({
      cohortId: 'g',
      messageId: 'back',
      inCohort: true,
      computedTime: 40,
      userIds: [everyone[0] as string],
    });
    await post({ cohortId: 'h', messageId: 'h1', inCohort: true, computedTime: 40, userIds: ['x'] });
    await crm.waitFor(() => delivered(crm).some((change) => change.message_id === 'h1'));
    expect(
      delivered(crm).filter((change) => change.message_id === 'out-big' || change.message_id === 'back'),
    ).toEqual([]);
    expect((await sinks()).sinks[0]).toMatchObject({ held: 41 });

    expect((await call('POST', '/holds/g/release')).body).toEqual({ changes: 41 });
    await crm.waitFor(() => delivered(crm).some((change) => change.message_id === 'back'));
    const sent = delivered(crm);
    expect(sent.filter((change) => change.message_id === 'out-big')).toHaveLength(40);
    expect(sent.findIndex((change) => change.message_id === 'back')).toBeGreaterThan(
      sent.findLastIndex((change) => change.message_id === 'out-big'),
    );
    expect((await sinks()).holds).toEqual([]);
  });

  it('holds a sync that empties a 10,000-member cohort, on the defaults; a discard drops its changes', async () => {
    const path = await directory();
    const crm = await downstream();
    const { post, sinks, call, members } = await start(path, { SINKS: 'http', SINK_HTTP_URL: crm.url });
    const everyone = ids('d', 10_000);
    const tenths = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => everyone.slice(i * 1000, i * 1000 + 1000));
    for (const [i, users] of tenths.entries()) {
      await post({ cohortId: 'd', messageId: `add-${i}`, inCohort: true, computedTime: 10, userIds: users });
    }
    await crm.waitFor(() => delivered(crm).length === 10_000, 60_000);
    // The emptying sync, in shuffled batches of 1,000, as Amplitude sends a sync.
    for (const [i, users] of shuffle([...tenths.entries()])) {
      await post({
        cohortId: 'd',
        messageId: `empty-${i}`,
        inCohort: false,
        computedTime: 20,
        userIds: users,
      });
    }
    await until(async () => (await members('d')) === 0, 'the store to apply the removals');
    const [hold] = (await sinks()).holds;
    expect(hold).toMatchObject({ cohort_id: 'd', members_at_open: 10_000 });
    // Up to half may leave before the hold: the batch that crosses it and every later one are held.
    const left = delivered(crm).filter((change) => change.kind === 'left').length;
    expect(left).toBeLessThanOrEqual(5000);
    expect((await sinks()).sinks[0]?.held).toBe(10_000 - left);

    expect((await call('POST', '/holds/d/discard')).body).toEqual({ changes: 10_000 - left });
    expect((await sinks()).sinks[0]).toMatchObject({ held: 0, waiting: 0 });
    await post({
      cohortId: 'd',
      messageId: 'again',
      inCohort: true,
      computedTime: 30,
      userIds: [everyone[0] as string],
    });
    await crm.waitFor(() => delivered(crm).some((change) => change.message_id === 'again'));
    expect(delivered(crm).filter((change) => change.kind === 'left')).toHaveLength(left);
  });
});
