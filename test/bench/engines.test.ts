/**
 * The storage-engine comparison (`bench/engines/cli.ts`) at a tiny size: every engine installed by
 * `npm ci` fills, churns, replays and conflicts, and its counts and sampled registers must equal the
 * model's and the in-memory reference's. Correctness only, never a timing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
let dir: TempDir | undefined;
afterEach(async () => {
  await dir?.remove();
});

describe('bench/engines', () => {
  it('applies the same first sync, churn, replay and conflicts in every engine, as the model expects', async () => {
    dir = await createTempDir('engines');
    const json = join(dir.path, 'engines.json');
    const engines = 'memory,sqlite,sqlite:group=3,lmdb,level';
    const { stdout } = await run(
      'npx',
      [
        'tsx',
        'bench/engines/cli.ts',
        '--engines',
        engines,
        '--users',
        '6000',
        '--churn',
        '6',
        '--verify',
      ].concat(['--sample', '500', '--dir', join(dir.path, 'files'), '--json', json]),
      { cwd: root, timeout: 240_000 },
    );
    const result = JSON.parse(await readFile(json, 'utf8')) as {
      failures: string[];
      results: { label: string; phases: Record<string, { members: number }> }[];
    };
    expect(result.failures).toEqual([]);
    expect(result.results.map((engine) => engine.label)).toEqual(engines.split(','));
    for (const engine of result.results) {
      expect(Object.keys(engine.phases).sort(), engine.label).toEqual([
        'churn',
        'conflict',
        'fill',
        'replay',
      ]);
      expect(engine.phases.fill?.members, engine.label).toBe(6000);
    }
    expect(stdout.match(/registers OK/g)).toHaveLength(5);
  }, 300_000);
});
