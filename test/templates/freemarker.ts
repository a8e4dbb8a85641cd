/**
 * @module Renders FreeMarker templates with the real Apache FreeMarker engine (Debian package
 * `libfreemarker-java`) through `Render.java`, many jobs per JVM because Java starts slowly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTempDir } from '../support/tmp.ts';

const run = promisify(execFile);

/** The repository root: template paths in jobs are relative to it. */
export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const renderer = fileURLToPath(new URL('./Render.java', import.meta.url));
const freemarkerJar = process.env.FREEMARKER_JAR ?? '/usr/share/java/freemarker.jar';

export interface RenderJob {
  /** Path from the repository root, e.g. `templates/with-properties.ftl`. */
  template: string;
  /** Becomes the template's root variable `input`. */
  input: unknown;
  /** FreeMarker's incompatible_improvements. @default '2.3.31' */
  version?: string;
  /** @default 'en_US' */
  locale?: string;
}

export type RenderResult = { ok: true; output: string } | { ok: false; error: string };

/**
 * Why rendering cannot run here, or undefined when it can. Single-file source mode (`java X.java`)
 * needs a JDK (its compiler), not only a JRE, so `javac` is what is looked for.
 */
export function freemarkerUnavailableReason(): string | undefined {
  if (!existsSync(freemarkerJar)) return `${freemarkerJar} is missing (apt-get install libfreemarker-java)`;
  const path = (process.env.PATH ?? '').split(':');
  if (!path.some((folder) => existsSync(join(folder, 'javac')))) {
    return 'no JDK on PATH (apt-get install default-jdk-headless)';
  }
  return undefined;
}

/** Renders every job in one JVM and returns the results in job order. */
export async function renderTemplates(jobs: RenderJob[]): Promise<RenderResult[]> {
  const dir = await createTempDir('freemarker');
  try {
    const jobsFile = join(dir.path, 'jobs.json');
    const resultsFile = join(dir.path, 'results.json');
    await writeFile(jobsFile, JSON.stringify(jobs));
    await run('java', ['-cp', freemarkerJar, renderer, jobsFile, resultsFile], {
      cwd: repositoryRoot,
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(await readFile(resultsFile, 'utf8')) as RenderResult[];
  } finally {
    await dir.remove();
  }
}
