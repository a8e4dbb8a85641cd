/**
 * A bug that escapes every handler (an unhandled rejection, an uncaught exception) is logged as
 * fatal, the receiver stops taking webhooks and drains what it accepted, and the process exits 1.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ReceiverProcess, startReceiverProcess } from '../../bench/receiver-process.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const escapingError = fileURLToPath(new URL('./fixtures/escaping-error.mjs', import.meta.url));
let dir: TempDir | undefined;
let receiver: ReceiverProcess | undefined;
afterEach(async () => {
  await receiver?.stop(1000);
  await dir?.remove();
});

const body = (messageId: string) =>
  JSON.stringify({
    cohort_name: 'Crash',
    cohort_id: 'crash',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: [{ user_id: 'u1' }, { user_id: 'u2' }],
  });

describe.each(['rejection', 'exception'])('an escaping %s', (kind) => {
  it('is logged as fatal, the accepted batch is applied before exit, and the exit code is 1', async () => {
    dir = await createTempDir('cohort-crash-');
    receiver = await startReceiverProcess({
      env: {
        SQLITE_PATH: join(dir.path, 'cohorts.db'),
        CRASH: kind,
        CRASH_WHEN: join(dir.path, 'crash-now'),
      },
      nodeArgs: ['--import', escapingError],
    });
    const answer = await fetch(`${receiver.url}/webhook`, { method: 'POST', body: body(`crash-${kind}`) });
    expect(answer.status).toBe(200);
    await writeFile(join(dir.path, 'crash-now'), '');

    expect(await receiver.exited).toBe(1);
    const fatal = receiver.logLines.find((line) => line.level === 60);
    expect(fatal).toMatchObject({
      msg: 'unexpected error: shutting down',
      origin: kind === 'rejection' ? 'unhandledRejection' : 'uncaughtException',
    });
    expect(JSON.stringify(fatal)).toContain(
      kind === 'rejection' ? 'a rejection nobody handled' : 'an exception nobody caught',
    );
    expect(receiver.logLines.find((line) => line.msg === 'stopped')).toMatchObject({ drained: true });

    // The batch acknowledged before the crash is in the store: a new process on the file lists it.
    receiver = await startReceiverProcess({ env: { SQLITE_PATH: join(dir.path, 'cohorts.db') } });
    const members = (await (await fetch(`${receiver.url}/cohorts/crash/members`)).json()) as {
      members: { user_id: string }[];
    };
    expect(members.members.map((member) => member.user_id)).toEqual(['u1', 'u2']);
  });
});

describe('SIGTERM while Redis is unreachable', () => {
  it('still shuts down in order: a "stopped" line, no stack trace, no fatal line', async () => {
    dir = await createTempDir('cohort-crash-');
    receiver = await startReceiverProcess({
      // Port 1: nothing listens there, so every Redis command fails.
      env: { QUEUE: 'redis', REDIS_URL: 'redis://127.0.0.1:1', SQLITE_PATH: join(dir.path, 'cohorts.db') },
    });
    const code = await receiver.stop(20_000);
    expect(receiver.stderr()).not.toMatch(/\n\s+at /);
    expect(receiver.logLines.some((line) => line.level === 60)).toBe(false);
    expect(receiver.logLines.find((line) => line.msg === 'stopped')).toBeDefined();
    expect(code).toBe(0);
  });
});
