/**
 * The backends and extras plug in from outside: in a copy of the repository without the inspector
 * and the Redis folders (each with its line in src/compose.ts, and their tests), the receiver
 * type-checks and passes the HTTP contract and the configuration tests. `npm run check:without --
 * inspect redis` runs the whole remaining suite the same way.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { repositoryRoot } from './repo-files.ts';

const run = promisify(execFile);

it('leaves a receiver that type-checks and answers the contract without src/inspect and src/redis', async () => {
  const { stdout } = await run(
    'npx',
    ['tsx', 'scripts/check-without.ts', 'inspect', 'redis', '--tests', 'test/contract,test/config.test.ts'],
    {
      cwd: repositoryRoot,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    },
  );
  expect(stdout).toContain(
    'without inspect, redis: removed src/inspect/, test/inspect/, src/redis/, test/redis/',
  );
  expect(stdout).toContain('type-check: passed');
  expect(stdout).toMatch(/Tests\s+\d+ passed \(\d+\)/);
}, 300_000);
