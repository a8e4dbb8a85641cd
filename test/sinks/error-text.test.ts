/**
 * An error and its causes are said once, in the log line and in a sink's dead letter: real
 * failures (a refused connection, a missing file), not made-up messages.
 */
import { openSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { errorText } from '../../src/core/error-text.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createHttpSink } from '../../src/sinks/http.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { changesFor } from './changes.ts';

/** A port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a sink's POST to a closed port rejects with. */
async function refusedPost(port: number): Promise<Error> {
  const sink = createHttpSink({ url: `http://127.0.0.1:${port}/changes` });
  try {
    return await sink.send(changesFor(['u1'])).then(
      () => new Error('the POST was taken'),
      (error: Error) => error,
    );
  } finally {
    await sink.close?.();
  }
}

/** What appending to a file in a folder that does not exist rejects with (ENOENT). */
async function missingFolder(dir: string): Promise<NodeJS.ErrnoException> {
  return appendFile(join(dir, 'no-such-folder', 'changes.ndjson'), 'x').then(
    () => new Error('written') as NodeJS.ErrnoException,
    (error: NodeJS.ErrnoException) => error,
  );
}

let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('error-text');
});
afterEach(() => dir.remove());

describe('errorText', () => {
  it('says a refused connection once: the sink’s words, fetch’s, then the socket’s', async () => {
    const port = await closedPort();
    expect(errorText(await refusedPost(port))).toBe(
      `POST http://127.0.0.1:${port}/changes failed: fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('says a system error’s code once, whether the wrapper names the code or quotes the message', async () => {
    const enoent = await missingFolder(dir.path);
    const path = join(dir.path, 'no-such-folder', 'changes.ndjson');
    const message = `ENOENT: no such file or directory, open '${path}'`;
    expect(enoent.message).toBe(message);
    expect(errorText(new Error(String(enoent.code), { cause: enoent }))).toBe(message);
    expect(errorText(new Error(`append to ${path} failed: ENOENT`, { cause: enoent }))).toBe(
      `append to ${path} failed: ${message}`,
    );
    expect(errorText(new Error(`append failed: ${enoent.message}`, { cause: enoent }))).toBe(
      `append failed: ${message}`,
    );
    expect(errorText(new Error('the sink is closed', { cause: enoent }))).toBe(
      `the sink is closed: ${message}`,
    );
  });

  it('survives a cause that is not an Error, and a cycle', () => {
    const cyclic = new Error('a');
    cyclic.cause = new Error('b', { cause: cyclic });
    expect(errorText(cyclic)).toBe('a: b');
    expect(errorText(new Error('a', { cause: 'text' }))).toBe('a: text');
    expect(errorText('plain')).toBe('plain');
  });
});

describe('the log line of an error with causes', () => {
  it('has each cause once, and keeps pino’s type, stack and fields', async () => {
    const path = join(dir.path, 'out.log');
    const logger = createLogger({}, openSync(path, 'w'));
    const port = await closedPort();
    const error = await refusedPost(port);
    logger.error({ err: error }, 'sink send failed');
    await nextTurn();
    const line = JSON.parse(readFileSync(path, 'utf8')) as { err: Record<string, unknown> };
    expect(line.err).toMatchObject({
      type: 'SinkError',
      message: `POST http://127.0.0.1:${port}/changes failed: fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`,
      retryable: true,
    });
    expect(line.err.stack).toContain('caused by: TypeError: fetch failed');
  });
});

describe('a sink dead letter’s reason', () => {
  it('names the cause once', async () => {
    const port = await closedPort();
    const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
    const dispatcher = createSinkDispatcher({
      sinks: [createHttpSink({ url: `http://127.0.0.1:${port}/changes` })],
      deadLetters,
      logger: pino({ level: 'silent' }),
      maxAttempts: 1,
    });
    await dispatcher.dispatch(changesFor(['u1']), 'm-1');
    await dispatcher.close();
    const [letter] = await deadLetters.list({ kind: 'sink' });
    expect(letter?.reason).toBe(
      `http: SinkError: POST http://127.0.0.1:${port}/changes failed: fetch failed: connect ECONNREFUSED 127.0.0.1:${port} (after 1 attempt)`,
    );
  });
});
