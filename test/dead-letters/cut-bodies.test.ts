/**
 * A rejected body larger than the quarantine keeps (64 KiB) is kept as its start, and every place
 * that shows it says so, with the size received: the inspector's list and letter page, its
 * download, and `npm run dlq`. Sent as Amplitude would, to a real receiver on the SQLite inbox.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maxKeptBodyBytes } from '../../src/core/dead-letters/dead-letters.ts';
import { runDlqCli } from '../cli/run-dlq.ts';
import { startTestReceiver, type TestReceiver } from '../hardening/receiver.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const token = 'cut-bodies-secret-7f3a9c2e';

/** 7.5 MiB of a cohort batch the receiver refuses (422): `in_cohort` is not a boolean. */
function largeRejectedBody(): Buffer {
  const head =
    '{"cohort_name":"Big","cohort_id":"c-big","in_cohort":"yes","computed_time":"1700000000","message_id":"m-big","users":[';
  const target = 7.5 * 1024 * 1024;
  const user = (index: number) =>
    `{"user_id":"user-${String(index).padStart(10, '0')}","user_properties":{"plan":"pro"}}`;
  const users: string[] = [];
  let size = head.length + 2;
  while (size + user(users.length).length + 1 < target) {
    size += user(users.length).length + 1;
    users.push(user(users.length));
  }
  // Padded with whitespace before the closing brackets to exactly 7.5 MiB: the size printed is the size sent.
  const text = `${head}${users.join(',')}`;
  return Buffer.from(`${text}${' '.repeat(target - text.length - 2)}]}`);
}

let receiver: TestReceiver;
let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('cut-bodies');
  receiver = await startTestReceiver({
    QUEUE: 'sqlite',
    SINKS: 'none',
    AUTH_TOKENS: token,
    MAX_USERS_PER_BATCH: '100000',
  });
});
afterEach(async () => {
  await receiver.stop();
  await dir.remove();
});

describe('a rejected body over the kept size', () => {
  it('is kept as its first 64 KiB, and the inspector and the CLI say so with the size received', async () => {
    const sent = largeRejectedBody();
    expect(sent.length).toBe(7.5 * 1024 * 1024);
    const answer = await fetch(`${receiver.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: sent,
    });
    expect(answer.status).toBe(422);

    const [letter] = await receiver.parts.deadLetters.list({ kind: 'rejected' });
    expect(letter).toMatchObject({ truncated: true, receivedBytes: sent.length });
    const described = 'the first 64 KiB of 7.5 MiB received';

    // The inspector, logged in as an operator.
    const login = await fetch(`${receiver.url}/inspect/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: receiver.url },
      body: new URLSearchParams({ token, next: '/inspect' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/=/);
    const page = (path: string) => fetch(`${receiver.url}/inspect${path}`, { headers: { cookie } });
    expect(await (await page('/quarantine')).text()).toContain(described);
    const letterPage = await (await page(`/letters/${letter?.id}`)).text();
    expect(letterPage).toContain(`${described}: only these were kept, so the body cannot be replayed`);
    expect(letterPage).toContain('download the bytes kept');
    expect(letterPage).not.toContain('exact bytes');
    const download = await page(`/letters/${letter?.id}/body`);
    expect(download.headers.get('content-disposition')).toMatch(/\.partial\.body"$/);
    const kept = Buffer.from(await download.arrayBuffer());
    expect(kept.length).toBe(maxKeptBodyBytes);
    expect(kept.equals(sent.subarray(0, maxKeptBodyBytes))).toBe(true);

    // npm run dlq, in a shell with the receiver's settings.
    const env = { QUEUE: 'sqlite', SQLITE_PATH: receiver.sqlitePath, SINKS: 'none' };
    const file = join(dir.path, 'kept.body');
    const [listed, downloaded] = await Promise.all([
      runDlqCli(['list'], env),
      runDlqCli(['download', letter?.id ?? '', '--out', file], env),
    ]);
    expect(listed.stdout).toContain(`${described}  invalid_payload: in_cohort`);
    expect(downloaded.stdout).toBe(`65536 bytes written to ${file} (${described}: the rest was not kept)\n`);
    expect((await readFile(file)).equals(kept)).toBe(true);
  }, 90_000); // two CLI processes and a 7.5 MiB body on a shared machine
});
