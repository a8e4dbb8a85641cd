/** @module What the engine comparison reads off the machine: file sizes, and this process's memory, I/O and CPU. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface DiskUsage {
  /** Apparent bytes (st_size), summed. */
  bytes: number;
  /** Bytes the file system allocated (st_blocks × 512): less for sparse files. */
  allocated: number;
}

/** The files under `path` (a file or a directory, recursively), summed; zeros when missing. */
export function diskUsage(path: string): DiskUsage {
  const usage: DiskUsage = { bytes: 0, allocated: 0 };
  if (!existsSync(path)) return usage;
  const visit = (current: string) => {
    const stat = statSync(current);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(current)) visit(join(current, entry));
    } else {
      usage.bytes += stat.size;
      usage.allocated += stat.blocks * 512;
    }
  };
  visit(path);
  return usage;
}

export interface MemoryStatus {
  /** Peak resident set (VmHWM), KiB: anonymous memory plus mapped file pages. */
  peakKiB: number;
  rssKiB: number;
  /** The part of the RSS that is anonymous memory (heaps, caches) vs pages of mapped files (lmdb's map, the binaries). */
  anonKiB: number;
  fileKiB: number;
}

export function memoryStatus(): MemoryStatus {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    peakKiB: field('VmHWM'),
    rssKiB: field('VmRSS'),
    anonKiB: field('RssAnon'),
    fileKiB: field('RssFile'),
  };
}

export interface IoCounters {
  /** Bytes this process (every thread) caused to be written to storage (page-cache writeback included). */
  writeBytes: number;
  /** Bytes passed to write-like system calls. */
  writeCalls: number;
  readBytes: number;
}

export function ioCounters(): IoCounters {
  let text = '';
  try {
    text = readFileSync('/proc/self/io', 'utf8');
  } catch {
    return { writeBytes: 0, writeCalls: 0, readBytes: 0 };
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { writeBytes: field('write_bytes'), writeCalls: field('wchar'), readBytes: field('read_bytes') };
}

/** CPU seconds this process (every thread) used so far. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
