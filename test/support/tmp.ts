/** @module Unique temporary directories for tests that need real files, removed after use. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  /** The directory's absolute path. */
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  remove: () => Promise<void>;
}

/** Makes a fresh, empty directory under the OS temp dir, e.g. `/tmp/cohort-receiver-sqlite-Xy12Ab`. */
export async function createTempDir(label = 'test'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `cohort-receiver-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
