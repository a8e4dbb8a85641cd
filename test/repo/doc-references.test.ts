/**
 * Every reference to a README or docs/ section resolves: markdown links between the docs, and the
 * `docs/x.md#section` and `README ("Section")` pointers in code, configuration and comments. A renamed
 * or removed heading then fails here, not in front of a reader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readText, repositoryFiles, repositoryRoot } from './repo-files.ts';

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1] ?? '');
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = (heading[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const seen = counts.get(slug) ?? 0;
    counts.set(slug, seen + 1);
    anchors.add(seen === 0 ? slug : `${slug}-${seen}`);
  }
  return anchors;
}

/** The heading texts of a markdown file, as written (for `README ("Section")` pointers). */
const headingsOf = (markdown: string) =>
  new Set([...markdown.matchAll(/^#{1,6}\s+(.*?)\s*$/gm)].map((match) => match[1] ?? ''));

interface Reference {
  from: string;
  target: string;
  anchor?: string | undefined;
  heading?: string | undefined;
}

/** The references `text` of `file` makes to markdown files of the repository. */
function referencesIn(file: string, text: string): Reference[] {
  const references: Reference[] = [];
  if (file.endsWith('.md')) {
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = match[1] ?? '';
      if (/^[a-z]+:/i.test(link)) continue;
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? file : normalize(join(dirname(file), path));
      if (target.endsWith('.md')) references.push({ from: file, target, anchor });
    }
  }
  // Repository-root paths in code, configuration and comments: `docs/design.md#the-apply-thread`.
  for (const match of text.matchAll(/(?<![\w./-])((?:README|docs\/[\w.-]+)\.md)#([\w-]+)/g)) {
    if (file.endsWith('.md') && text.slice(Math.max(0, (match.index ?? 0) - 2), match.index).endsWith(']('))
      continue;
    references.push({ from: file, target: match[1] ?? '', anchor: match[2] });
  }
  // A section named in words: `the README ("Production deployment")`.
  for (const match of text.matchAll(/\b(README|docs\/[\w.-]+)(?:\.md)? \("([^"]+)"\)/g)) {
    const target = match[1] === 'README' ? 'README.md' : `${match[1]}.md`;
    references.push({ from: file, target, heading: match[2] });
  }
  return references;
}

function brokenReferences(): string[] {
  const broken: string[] = [];
  const markdown = new Map<string, string>();
  const read = (target: string) => {
    if (!markdown.has(target)) markdown.set(target, readFileSync(join(repositoryRoot, target), 'utf8'));
    return markdown.get(target) ?? '';
  };
  for (const file of repositoryFiles()) {
    if (file === 'package-lock.json' || file.startsWith('test/repo/')) continue;
    const text = readText(file);
    if (text === undefined) continue;
    for (const { from, target, anchor, heading } of referencesIn(file, text)) {
      if (!existsSync(join(repositoryRoot, target))) {
        broken.push(`${from}: ${target} does not exist`);
      } else if (anchor !== undefined && anchor !== '' && !anchorsOf(read(target)).has(anchor)) {
        broken.push(`${from}: ${target} has no section #${anchor}`);
      } else if (heading !== undefined && !headingsOf(read(target)).has(heading)) {
        broken.push(`${from}: ${target} has no section "${heading}"`);
      }
    }
  }
  return broken;
}

describe('references to README and docs/ sections', () => {
  it('slugs headings as GitHub does', () => {
    const anchors = anchorsOf(
      [
        '## Choosing a queue and a store',
        '### `SINK_HTTP_…` settings',
        '## HTTP API',
        '## HTTP API',
        '```',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...anchors]).toEqual([
      'choosing-a-queue-and-a-store',
      'sink_http_-settings',
      'http-api',
      'http-api-1',
    ]);
  });

  it('finds links, paths with an anchor, and sections named in words', () => {
    expect(
      referencesIn(
        'docs/a.md',
        'see [b](b.md#x), [top](#y), [site](https://e.com/c.md) and README ("Quick start")',
      ),
    ).toEqual([
      { from: 'docs/a.md', target: 'docs/b.md', anchor: 'x' },
      { from: 'docs/a.md', target: 'docs/a.md', anchor: 'y' },
      { from: 'docs/a.md', target: 'README.md', heading: 'Quick start' },
    ]);
    expect(referencesIn('src/x.ts', '// (docs/design.md#the-apply-thread)')).toEqual([
      { from: 'src/x.ts', target: 'docs/design.md', anchor: 'the-apply-thread' },
    ]);
  });

  it('resolves every one of them', () => {
    const broken = brokenReferences();
    expect(broken, broken.join('\n')).toEqual([]);
  });
});
