/**
 * @module A small disk of its own for the disk-full tests: a tmpfs mounted for the test (root only,
 * as CI runs) and filled for real with a file until writes fail, then freed by deleting that file.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  path: string;
  /** Bytes free on it now. */
  freeBytes(): number;
  /** Unmounts it and removes its mount point. */
  unmount(): void;
}

/** Mounts a tmpfs of `megabytes`; throws saying why when it cannot (not root, no mount). */
export function mountTmpfs(megabytes: number): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'cohort-receiver-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(
      `the disk-full tests mount a ${megabytes} MB tmpfs and could not (they need root, as CI has): ${stderr || (error as Error).message}`,
    );
  }
  return {
    path,
    freeBytes: () => {
      const { bavail, bsize } = statfsSync(path);
      return bavail * bsize;
    },
    unmount: () => {
      // Lazy: a receiver killed a moment ago may still hold a file open.
      execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      rmSync(path, { recursive: true, force: true });
    },
  };
}

let fillers = 0;

/** Fills the disk under `directory` with a new file until a write fails (ENOSPC); returns how to free it. */
export function fillDisk(directory: string): { bytes: number; free(): void } {
  fillers += 1;
  const path = join(directory, `filler-${process.pid}-${fillers}`);
  const fd = openSync(path, 'w');
  let bytes = 0;
  // Large writes first, then small ones for the last pages.
  for (const size of [1024 * 1024, 4096]) {
    const chunk = Buffer.alloc(size, 1);
    for (;;) {
      try {
        bytes += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        break;
      }
    }
  }
  closeSync(fd);
  return { bytes, free: () => unlinkSync(path) };
}
