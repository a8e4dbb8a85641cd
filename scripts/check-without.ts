/**
 * @module `npm run check:without -- <extension> [...] [--tests path,path]`: proves that an extension
 * plugs in from outside. In a copy of the repository, it deletes each named extension's folder
 * (`src/<name>/`), its line in src/compose.ts and its tests (`test/<name>/`, and every test file
 * that imports from either), then type-checks the copy and runs the remaining suite (or only
 * `--tests`). Exits 0 when both pass.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { tests: { type: 'string' }, help: { type: 'boolean', default: false } },
});
if (values.help || positionals.length === 0) {
  console.log('Usage: npm run check:without -- <extension folder> [...] [--tests path,path]');
  console.log('  e.g. npm run check:without -- inspect redis');
  process.exit(values.help ? 0 : 2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'cohort-receiver-without-'));
// Without REQUIRE_SERVICES: a suite for a deleted extension is skipped, saying so, not failed.
const { REQUIRE_SERVICES: _required, ...env } = process.env;
const run = (command: string, args: string[]) =>
  spawnSync(command, args, { cwd: copy, stdio: 'inherit', env }).status ?? 1;

try {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((file) => file !== '' && existsSync(join(root, file)));
  for (const file of files) cpSync(join(root, file), join(copy, file), { recursive: true });
  // A repository of its own: the tests that read the repository's files ask git for them.
  execFileSync('git', ['init', '-q'], { cwd: copy });
  writeFileSync(join(copy, '.git/info/exclude'), 'node_modules\n');
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));

  const removed: string[] = [];
  for (const name of positionals) {
    if (!existsSync(join(copy, 'src', name, 'extension.ts'))) {
      throw new Error(`src/${name}/ is not an extension folder (no extension.ts)`);
    }
    unwire(name);
    for (const folder of [`src/${name}`, `test/${name}`]) {
      if (existsSync(join(copy, folder))) {
        rmSync(join(copy, folder), { recursive: true });
        removed.push(`${folder}/`);
      }
    }
  }
  removed.push(...removeTestsImporting(positionals.flatMap((name) => [`src/${name}/`, `test/${name}/`])));
  execFileSync('git', ['add', '-A'], { cwd: copy });
  console.log(`without ${positionals.join(', ')}: removed ${removed.join(', ')}`);

  const typeCheck = run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
  console.log(typeCheck === 0 ? 'type-check: passed' : 'type-check: FAILED');
  const tests = typeCheck === 0 ? run('npx', ['vitest', 'run', ...(values.tests?.split(',') ?? [])]) : 1;
  process.exitCode = typeCheck === 0 && tests === 0 ? 0 : 1;
} finally {
  rmSync(copy, { recursive: true, force: true });
}

/** Drops the extension's import and its entry in the list of src/compose.ts. */
function unwire(name: string): void {
  const path = join(copy, 'src/compose.ts');
  const text = readFileSync(path, 'utf8');
  const importLine = new RegExp(`^import \\{ (\\w+) \\} from '\\./${name}/extension\\.ts';\\n`, 'm');
  const identifier = importLine.exec(text)?.[1];
  if (identifier === undefined) throw new Error(`src/compose.ts does not import ./${name}/extension.ts`);
  const entry = new RegExp(`^\\s*${identifier},\\n`, 'm');
  if (!entry.test(text)) throw new Error(`src/compose.ts does not list ${identifier}`);
  writeFileSync(path, text.replace(importLine, '').replace(entry, ''));
}

/** Deletes, until none is left, every test file that imports from a deleted folder or file. */
function removeTestsImporting(deleted: string[]): string[] {
  const gone = [...deleted];
  const removed: string[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    const testFiles = execFileSync('find', ['test', '-name', '*.ts'], { cwd: copy, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (const file of testFiles) {
      const imports = [...readFileSync(join(copy, file), 'utf8').matchAll(/from '(\.[^']+)'/g)].map((match) =>
        relative(copy, resolve(dirname(join(copy, file)), match[1] as string)),
      );
      if (!imports.some((target) => gone.some((path) => target === path || target.startsWith(path))))
        continue;
      rmSync(join(copy, file));
      gone.push(file);
      removed.push(file);
      changed = true;
    }
  }
  return removed;
}
