/**
 * Every command of package.json's scripts run through tsx, and every mode of the bench, answers
 * `--help` with its usage and exit code 0, and the usage's brackets balance. The list is read from
 * package.json, so a new command cannot forget `--help`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { scripts } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  scripts: Record<string, string>;
};

/** Scripts that start a server rather than run a command: `--help` is not theirs to answer. */
const servers = new Set(['example:minimal']);

/** `tsx <file> [args]` scripts, as [name, file and args]. */
const commands = Object.entries(scripts)
  .filter(([name]) => !servers.has(name))
  .flatMap(([name, script]) => {
    const match = /^tsx (\S+)(.*)$/.exec(script);
    return match ? [[`npm run ${name}`, [match[1] as string, ...(match[2] as string).split(' ')]]] : [];
  })
  .map(([name, args]) => [name, (args as string[]).filter(Boolean)] as [string, string[]]);

/** Modes and commands that no script names on its own. */
const others: [string, string[]][] = [
  ['npm run bench -- --first-sync', ['bench/cli.ts', '--first-sync']],
  ['bench/engines/cli.ts', ['bench/engines/cli.ts']],
];

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', ...args],
      // No receiver settings: the usage must not need them (dlq reads them for everything else).
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The first bracket that is never closed, or closed by the wrong one; undefined when all balance. */
function unbalancedBracket(text: string): string | undefined {
  const opening: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const open: string[] = [];
  for (const character of text) {
    if ('([{'.includes(character)) open.push(character);
    else if (character in opening && open.pop() !== opening[character]) return character;
  }
  return open[0];
}

describe('--help', () => {
  it('finds the commands in package.json', () => {
    expect(commands.map(([name]) => name)).toEqual(
      expect.arrayContaining(['npm run bench', 'npm run simulate', 'npm run dlq', 'npm run soak']),
    );
  });

  it.each([...commands, ...others])(
    '%s prints its usage and exits 0',
    async (_name, args) => {
      const outcome = await run([...args, '--help']);
      expect(outcome, outcome.stderr).toMatchObject({ code: 0 });
      expect(outcome.stdout).toMatch(/^Usage: /);
      expect(unbalancedBracket(outcome.stdout)).toBeUndefined();
    },
    90_000,
  ); // each a tsx process of its own, on a shared machine

  it('finds an unclosed bracket', () => {
    expect(unbalancedBracket('a (b [c] d) e')).toBeUndefined();
    expect(unbalancedBracket('(the origin, and its ?token=***')).toBe('(');
    expect(unbalancedBracket('a (b] c')).toBe(']');
  });
});
