import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from './support/tmp.ts';

const run = promisify(execFile);
let dir: TempDir;
beforeEach(async () => {
  dir = await createTempDir('logger');
});
afterEach(() => dir.remove());

/** Logs `lines` lines through createLogger in a child process, into `path`, then ends as told. */
async function logInChild(path: string, lines: number, end: 'exit at once' | 'let the loop drain') {
  const script = `
    import { openSync } from 'node:fs';
    import { createLogger } from './src/runtime/logger.ts';
    const logger = createLogger({}, openSync(${JSON.stringify(path)}, 'w'));
    for (let i = 0; i < ${lines}; i++) logger.info({ i, user_id: 'ü-' + i + '-😀' }, 'membership change');
    ${end === 'exit at once' ? 'process.exit(0);' : ''}`;
  await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
  });
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('createLogger', () => {
  it('writes every line whole and in order, multi-byte characters included, across 1 MiB writes', async () => {
    const lines = 40_000; // ~4 MB: several writes, so lines straddle the chunk boundaries
    const written = await logInChild(join(dir.path, 'out.log'), lines, 'let the loop drain');
    expect(written.map((line) => line.i)).toEqual(Array.from({ length: lines }, (_, i) => i));
    expect(written.at(-1)).toMatchObject({ user_id: `ü-${lines - 1}-😀`, msg: 'membership change' });
  });

  it('writes only whole lines to a pipe when the process exits while the reader lags', async () => {
    // Lines in several event-loop turns, then process.exit: stdout is a pipe the parent drains
    // at its own pace, so writes are partial. An exit flush racing an unfinished asynchronous
    // write used to splice later lines into the middle of an earlier one.
    const script = `
      import { createLogger } from './src/runtime/logger.ts';
      const logger = createLogger({});
      for (let turn = 0; turn < 20; turn++) {
        for (let i = 0; i < 5000; i++) logger.info({ n: turn * 5000 + i, pad: 'x'.repeat(100) }, 'line');
        await new Promise((resolve) => setImmediate(resolve));
      }
      process.exit(0);`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..'),
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = stdout.split('\n').filter((line) => line !== '');
    const numbers = lines.map((line) => (JSON.parse(line) as { n: number }).n);
    expect(numbers).toEqual(Array.from({ length: 100_000 }, (_, n) => n));
  });

  it('loses no pending line when the process exits at once', async () => {
    // The lines are still in memory when process.exit runs: only the exit flush can write them.
    const written = await logInChild(join(dir.path, 'exit.log'), 20_000, 'exit at once');
    expect(written).toHaveLength(20_000);
    expect(written.at(-1)).toMatchObject({ i: 19_999 });
  });
});
