/**
 * The HTTP contract every receiver of this project answers (README's API table), checked over a real
 * server on 127.0.0.1 with `describeHttpContract(name, start)`: the full receiver in its modes, and
 * the minimal example on the core alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection } from '../hardening/raw-http.ts';

export interface ServedReceiver {
  url: string;
  stop(): Promise<void>;
  /** Stops it and starts it again on the same state (durable receivers only). */
  restart?(): Promise<ServedReceiver>;
}

/** The secret every receiver under contract is started with. */
export const contractToken = 'contract-secret-0123456789';

let sequence = 0;

/** A default-shape body: one cohort, one direction; a fresh message_id unless given. */
export function batchBody(overrides: Record<string, unknown> = {}) {
  sequence += 1;
  return {
    cohort_name: 'Contract',
    cohort_id: `contract-${process.pid}`,
    in_cohort: true,
    computed_time: '1700000000',
    message_id: `contract-${process.pid}-${Date.now()}-${sequence}`,
    users: [{ user_id: 'u-1', user_properties: { plan: 'pro' } }, { user_id: 'u-2' }],
    ...overrides,
  };
}

export interface ContractOptions {
  /** It keeps what it accepted across a restart: the contract then checks that it does. */
  durable?: boolean;
}

export function describeHttpContract(
  name: string,
  start: () => Promise<ServedReceiver>,
  options: ContractOptions = {},
) {
  describe(`HTTP contract: ${name}`, () => {
    let receiver: ServedReceiver;
    beforeAll(async () => {
      receiver = await start();
    }, 120_000);
    afterAll(async () => {
      await receiver?.stop();
    });

    const auth = { authorization: `Bearer ${contractToken}` };
    const post = (body: unknown, headers: Record<string, string> = auth, path = '/webhook') =>
      fetch(`${receiver.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      });
    const get = (path: string) => fetch(`${receiver.url}${path}`, { headers: auth });
    /** Apply is asynchronous: reads until `check` passes, or fails with its last error. */
    const eventually = async (check: () => Promise<void>) => {
      let last: unknown;
      for (let tries = 0; tries < 200; tries += 1) {
        try {
          return await check();
        } catch (error) {
          last = error;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
      throw last;
    };
    const membersOf = async (cohortId: string) =>
      (await (await get(`/cohorts/${encodeURIComponent(cohortId)}/members?limit=1000`)).json()) as {
        members: { user_id: string; since: number; user_properties: unknown }[];
        next_cursor: string | null;
      };

    it('answers 200 "accepted" with the user count, then the members read back', async () => {
      const body = batchBody({ cohort_id: `accepted-${sequence}` });
      const response = await post(body);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'accepted', message_id: body.message_id, users: 2 });
      await eventually(async () =>
        expect((await membersOf(body.cohort_id)).members).toEqual([
          { user_id: 'u-1', since: 1_700_000_000, user_properties: { plan: 'pro' } },
          { user_id: 'u-2', since: 1_700_000_000, user_properties: null },
        ]),
      );
    });

    it('answers 200 "duplicate" to a message_id it accepted, and applies it once', async () => {
      const body = batchBody({ cohort_id: `duplicate-${sequence}` });
      expect((await post(body)).status).toBe(200);
      const again = await post({ ...body, users: [{ user_id: 'sneaked-in' }] });
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ status: 'duplicate', message_id: body.message_id });
      await eventually(async () =>
        expect((await membersOf(body.cohort_id)).members.map((member) => member.user_id)).toEqual([
          'u-1',
          'u-2',
        ]),
      );
    });

    it('keeps a user out when a removal arrives before an older add (last writer wins)', async () => {
      const cohort_id = `order-${sequence}`;
      const remove = batchBody({
        cohort_id,
        in_cohort: false,
        computed_time: '1700000200',
        users: [{ user_id: 'u-1' }],
      });
      const olderAdd = batchBody({ cohort_id, computed_time: '1700000100' });
      expect((await post(remove)).status).toBe(200);
      expect((await post(olderAdd)).status).toBe(200);
      await eventually(async () =>
        expect((await membersOf(cohort_id)).members.map((member) => member.user_id)).toEqual(['u-2']),
      );
    });

    it("accepts the per-user flag list, whose dedupe key is the body's hash", async () => {
      const body = JSON.stringify([
        { user_id: 'flag-1', [`amplitude_Flags_flags-${process.pid}`]: true },
        { user_id: 'flag-2', [`amplitude_Flags_flags-${process.pid}`]: true },
      ]);
      const first = await post(body);
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ status: 'accepted', users: 2 });
      expect(await (await post(body)).json()).toMatchObject({ status: 'duplicate' });
      await eventually(async () =>
        expect((await membersOf(`flags-${process.pid}`)).members.map((member) => member.user_id)).toEqual([
          'flag-1',
          'flag-2',
        ]),
      );
    });

    it('takes the secret as a bearer token in any case, bare, or as ?token=, and answers 401 without it', async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong-secret' }]) {
        const refused = await post(batchBody(), headers);
        expect(refused.status).toBe(401);
        expect(await refused.json()).toEqual({ error: 'unauthorized' });
      }
      expect((await post(batchBody(), { authorization: `bearer ${contractToken}` })).status).toBe(200);
      expect((await post(batchBody(), { authorization: contractToken })).status).toBe(200);
      expect((await post(batchBody(), {}, `/webhook?token=${contractToken}`)).status).toBe(200);
    });

    it('answers 400 invalid_json, saying why, to a body that is not JSON or not UTF-8', async () => {
      const broken = await post('{"cohort_id": ');
      expect(broken.status).toBe(400);
      expect(await broken.json()).toMatchObject({ error: 'invalid_json', detail: expect.any(String) });
      const latin1 = await post(Buffer.from([0x7b, 0xff, 0x7d]));
      expect(latin1.status).toBe(400);
      expect(await latin1.json()).toEqual({ error: 'invalid_json', detail: 'body is not valid UTF-8' });
    });

    it('answers 422 invalid_payload naming each problem by its path', async () => {
      const response = await post(batchBody({ in_cohort: 'yes', users: [{ id: 'x' }] }));
      expect(response.status).toBe(422);
      const body = (await response.json()) as { error: string; issues: { path: string; message: string }[] };
      expect(body.error).toBe('invalid_payload');
      expect(body.issues.map((issue) => issue.path)).toEqual(
        expect.arrayContaining(['in_cohort', 'users.0.user_id']),
      );
    });

    it('answers 413 payload_too_large with the limit, before reading a body declared too long', async () => {
      const { port } = new URL(receiver.url);
      const connection = await openConnection(Number(port));
      connection.socket.write(
        `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${contractToken}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n{',
      );
      await connection.closedWithin(5000).catch(() => undefined);
      const answer = connection.received();
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        error: 'payload_too_large',
        limit: expect.any(Number),
      });
    });

    it('answers 405 with Allow: POST to another method on the webhook, and 404 in JSON elsewhere', async () => {
      const wrongMethod = await get('/webhook');
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
      expect(await wrongMethod.json()).toEqual({ error: 'method_not_allowed', allowed: ['POST'] });
      const nowhere = await get('/nowhere');
      expect(nowhere.status).toBe(404);
      expect(await nowhere.json()).toEqual({ error: 'not_found' });
    });

    it('pages members in user_id order, lists cohorts and a user’s cohorts, behind the secret', async () => {
      const cohort_id = `read-${sequence}`;
      const users = ['c', 'a', 'é', 'b'].map((user_id) => ({ user_id }));
      expect((await post(batchBody({ cohort_id, cohort_name: 'Read "API"', users }))).status).toBe(200);
      await eventually(async () => expect((await membersOf(cohort_id)).members).toHaveLength(4));
      const first = (await (await get(`/cohorts/${cohort_id}/members?limit=3`)).json()) as {
        members: { user_id: string }[];
        next_cursor: string;
      };
      expect(first.members.map((member) => member.user_id)).toEqual(['a', 'b', 'c']);
      const rest = (await (
        await get(`/cohorts/${cohort_id}/members?limit=3&cursor=${first.next_cursor}`)
      ).json()) as {
        members: { user_id: string }[];
        next_cursor: string | null;
      };
      expect(rest).toEqual({
        cohort_id,
        members: [expect.objectContaining({ user_id: 'é' })],
        next_cursor: null,
      });
      const cohorts = (await (await get('/cohorts')).json()) as { cohorts: Record<string, unknown>[] };
      expect(cohorts.cohorts).toContainEqual({
        cohort_id,
        cohort_name: 'Read "API"',
        members: 4,
        updated_at: 1_700_000_000,
      });
      expect(await (await get('/users/%C3%A9/cohorts')).json()).toEqual({
        user_id: 'é',
        cohorts: [{ cohort_id, cohort_name: 'Read "API"', since: 1_700_000_000 }],
      });
      const badLimit = await get(`/cohorts/${cohort_id}/members?limit=0`);
      expect(badLimit.status).toBe(400);
      expect(await badLimit.json()).toMatchObject({ error: 'invalid_limit' });
      expect((await fetch(`${receiver.url}/cohorts`)).status).toBe(401);
    });

    it('answers the probes without the secret', async () => {
      const health = await fetch(`${receiver.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${receiver.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready' });
    });

    // Only a durable queue keeps what it accepted across a restart.
    if (!options.durable) return;
    it('applies what it accepted before a restart', async () => {
      if (!receiver.restart) throw new Error(`${name} is durable but cannot be restarted here`);
      const cohort_id = `restart-${sequence}`;
      const bodies = Array.from({ length: 5 }, (_, index) =>
        batchBody({ cohort_id, users: [{ user_id: `r-${index}` }] }),
      );
      for (const body of bodies) expect((await post(body)).status).toBe(200);
      receiver = await receiver.restart();
      await eventually(async () => expect((await membersOf(cohort_id)).members).toHaveLength(5));
      expect(await (await post(bodies[0])).json()).toMatchObject({ status: 'duplicate' });
    });
  });
}
