import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/compose.ts';
import { createMemoryDeadLetters } from '../../src/core/dead-letters/memory.ts';
import { createSinkDispatcher } from '../../src/core/sinks/dispatcher.ts';
import { changeKey, type Sink } from '../../src/core/sinks/sink.ts';
import { createSinks } from '../../src/runtime/sink-settings.ts';
import { createTempDir, type TempDir } from '../support/tmp.ts';
import { changesFor, membershipChange } from './changes.ts';

// The contract suite runs in ndjson-file.contract.test.ts, the file docs/sinks.md quotes.
let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('ndjson-file');
});
afterEach(() => dir.remove());

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
};

/** Sends through the dispatcher, as the worker does, and returns the dead letters it kept. */
async function dispatchTo(sink: Sink, maxAttempts: number) {
  const deadLetters = createMemoryDeadLetters({ maxPerKind: 10 });
  const dispatcher = createSinkDispatcher({
    sinks: [sink],
    deadLetters,
    logger: pino({ level: 'silent' }),
    maxAttempts,
    backoffMs: () => 1,
  });
  await dispatcher.dispatch(changesFor(['u1', 'u2']), 'm-100');
  await dispatcher.close();
  return deadLetters.list({ kind: 'sink' });
}

const sinkAt = (path: string) =>
  createSinks(
    loadConfig({ SINKS: 'ndjson-file', SINK_NDJSON_FILE_PATH: path }).SINKS,
    pino({ level: 'silent' }),
  )[0] as Sink;

describe('the ndjson-file sink', () => {
  it('is refused at start-up without its path, with the message docs/sinks.md quotes', () => {
    expect(refusal({ SINKS: 'ndjson-file' })).toBe(
      'invalid configuration: SINK_NDJSON_FILE_PATH: required: the file it appends a line per change to',
    );
  });

  it('appends one JSON line per change, with its idempotency key and the state to set', async () => {
    const path = join(dir.path, 'changes.ndjson');
    const sink = sinkAt(path);
    await sink.send([membershipChange({ userId: 'u7', kind: 'left', properties: undefined })]);
    await sink.send([membershipChange({ userId: 'u8' })]);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        key: changeKey(membershipChange({ userId: 'u7' })),
        user_id: 'u7',
        in_cohort: false,
      }),
      expect.objectContaining({ user_id: 'u8', in_cohort: true, user_properties: { plan: 'pro' } }),
    ]);
    expect(sink).toMatchObject({ name: 'ndjson-file', batchSize: 500 });
  });

  it('sets the changes aside at once when its path is a folder: a retry cannot help', async () => {
    const path = join(dir.path, 'a-folder');
    await mkdir(path);
    const [letter] = await dispatchTo(sinkAt(path), 5);
    expect(letter?.reason).toBe(
      `ndjson-file: SinkError: ${path} is a directory: EISDIR: illegal operation on a directory, open '${path}' (after 1 attempt)`,
    );
  });

  it('retries a folder that does not exist yet, then sets the changes aside, saying ENOENT once', async () => {
    const path = join(dir.path, 'not-yet', 'changes.ndjson');
    const [letter] = await dispatchTo(sinkAt(path), 3);
    expect(letter?.reason).toBe(
      `ndjson-file: Error: ENOENT: no such file or directory, open '${path}' (after 3 attempts)`,
    );
  });
});
