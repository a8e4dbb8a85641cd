/**
 * The overview leads with what needs a person, read from durable state: a real receiver in this
 * process (QUEUE=sqlite, STORE=sqlite, the log sink under sink control) with two quarantined
 * bodies, a failed batch and a paused sink with changes waiting; restarted on the same file, the
 * overview still lists them, and the totals read from the series are still there.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type RunningReceiver, startReceiver } from '../../src/compose.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const batchBody = (messageId: string, cohortId: string, users: string[]) =>
  JSON.stringify({
    cohort_id: cohortId,
    cohort_name: `Cohort ${cohortId}`,
    in_cohort: true,
    computed_time: 1_700_000_000,
    message_id: messageId,
    users: users.map((user_id) => ({ user_id })),
  });

/** The first section of the overview's <main>, after its heading. */
function attentionOf(html: string): string {
  const main = html.slice(html.indexOf('<main>'));
  const start = main.indexOf('<section');
  expect(main.slice(0, start)).toMatch(/^<main><h1>Overview<\/h1>$/);
  return main.slice(start, main.indexOf('</section>') + '</section>'.length);
}

const item = (section: string, kind: string) =>
  new RegExp(`<li data-attention="${kind}">(.*?)</li>`).exec(section)?.[1]?.replace(/<[^>]+>/g, '');

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never: ${what}`);
}

describe('overview: needs a person', () => {
  let dir: TempDir | undefined;
  let receiver: RunningReceiver | undefined;
  afterEach(async () => {
    await receiver?.shutdown();
    receiver = undefined;
    await dir?.remove();
  });

  const start = async (path: string) => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      QUEUE: 'sqlite',
      STORE: 'sqlite',
      SQLITE_PATH: path,
      APPLY_MAX_ATTEMPTS: '1',
      SINKS: 'log',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
    // No AUTH_TOKENS nor ADMIN_TOKENS: the inspector takes loopback clients without a login.
    return startReceiver(config, pino({ level: 'silent' }));
  };
  const overview = async () => (await fetch(`${receiver?.url}/inspect`)).text();
  const post = (body: string) =>
    fetch(`${receiver?.url}/webhook`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });

  it('lists quarantined bodies, a dead letter and a paused sink first, and keeps them over a restart', async () => {
    dir = await createTempDir('overview-attention');
    const path = join(dir.path, 'cohorts.db');
    receiver = await start(path);
    await receiver.ready;
    const clear = attentionOf(await overview());
    expect(clear).toContain('class="attention clear"');
    expect(clear).toContain('All clear');

    // Two bodies the receiver refuses: quarantined.
    expect((await post('{"cohort_id":"q1"}')).status).toBeGreaterThanOrEqual(400);
    expect(
      (await post(batchBody('bad-2', 'q2', []).replace('"users":[]', '"users":[{"id":1}]'))).status,
    ).toBe(422);
    // A batch the store refuses on its one attempt: a failed dead letter.
    const db = new Database(path);
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TRIGGER attention_refuse BEFORE INSERT ON cohort_memberships WHEN NEW.cohort_id = 'refused'
      BEGIN SELECT RAISE(ABORT, 'the test refuses this cohort'); END`);
    expect((await post(batchBody('refused-1', 'refused', ['dave']))).status).toBe(200);
    await until(
      overview,
      (html) => item(attentionOf(html), 'failed-letters') !== undefined,
      'a failed letter',
    );
    db.exec('DROP TRIGGER attention_refuse');
    db.close();

    // The log sink paused through the inspector's form; a batch's changes then wait for it.
    const paused = await fetch(`${receiver.url}/inspect/sinks/pause`, {
      method: 'POST',
      body: new URLSearchParams({ sink: 'log' }),
      headers: { origin: receiver.url, 'sec-fetch-site': 'same-origin' },
    });
    expect(paused.status).toBe(200);
    expect((await post(batchBody('kept-1', 'kept', ['alice', 'bob']))).status).toBe(200);

    const html = await until(
      overview,
      (page) =>
        /paused with 2 changes waiting/.test(item(attentionOf(page), 'sink-paused') ?? '') &&
        /<td>received batches<\/td><td class="num">4<\/td>/.test(page),
      'the paused sink with its changes waiting, and the four batches in the totals',
    );
    const expectItems = (section: string) => {
      expect(section).toContain('class="attention"');
      expect(section).not.toContain('All clear');
      expect(item(section, 'quarantine')).toMatch(
        /^2 rejected bodies in the quarantine, the newest at .+Inspect/,
      );
      expect(section).toContain('href="/inspect/quarantine"');
      expect(item(section, 'failed-letters')).toMatch(/^1 failed batch in the dead letters/);
      expect(section).toContain('href="/inspect/dead-letters?kind=failed"');
      expect(item(section, 'sink-paused')).toMatch(/^Sink log is paused with 2 changes waiting \(since .+\)/);
      expect(section).toContain('href="/inspect/sinks/resume?sink=log"');
      expect(item(section, 'sink-letters')).toBeUndefined();
    };
    expectItems(attentionOf(html));

    // Restarted on the same file: the letters, the pause and the series are durable.
    await receiver.shutdown();
    receiver = await start(path);
    await receiver.ready;
    const after = await overview();
    expectItems(attentionOf(after));
    expect(after).toMatch(/<td>received batches<\/td><td class="num">4<\/td>/);
    expect(after).toMatch(/<td>accepted<\/td><td class="num">2<\/td>/);
    // This process's own counters started again from zero; the section above did not.
    expect(after).toMatch(/<td>received batches<\/td><td class="num">0<\/td><td class="num">0<\/td>/);
  });
});
