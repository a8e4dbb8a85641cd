/** @module The repository's own text files, and the lines in them that match a rule, for repo hygiene tests. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Tracked files plus new ones git does not ignore, so a file counts before it is committed. */
export function repositoryFiles(root = repositoryRoot): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const files = new Set(listed.split('\0').filter((file) => file !== ''));
  // A tracked file deleted in the working tree is still listed until the deletion is committed.
  return [...files].filter((file) => existsSync(join(root, file))).sort();
}

/** The file's text, or undefined for a binary file (a NUL byte, as git decides) or a directory. */
export function readText(file: string, root = repositoryRoot): string | undefined {
  const path = join(root, file);
  if (!statSync(path).isFile()) return undefined;
  const bytes = readFileSync(path);
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

export interface LineRule {
  /** Shown in the failure, e.g. "a developer guide". */
  name: string;
  pattern: RegExp;
}

/** Every line of `text` that breaks a rule, as `file:line: rule: line text`. */
export function offendingLines(file: string, text: string, rules: readonly LineRule[]): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    for (const rule of rules) {
      if (rule.pattern.test(line))
        found.push(`${file}:${index + 1}: ${rule.name}: ${line.trim().slice(0, 160)}`);
    }
  }
  return found;
}
