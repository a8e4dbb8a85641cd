/** @module What machine a result came from: ratios travel between machines, absolute numbers do not. */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: other work on the machine skews absolute numbers. */
  loadAverage: number;
}

export function describeMachine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/**
 * The CPU to pin servers to, or null. Pinning (the method of docs/performance.md) gives the server one core
 * and the load generator the other, so they do not steal from each other; it needs two CPUs and
 * taskset. `auto` pins when it can.
 */
export function serverCpu(mode: 'auto' | 'on' | 'off'): number | null {
  if (mode === 'off') return null;
  const possible = availableParallelism() >= 2 && hasTaskset();
  if (mode === 'on' && !possible) throw new Error('--pin on needs taskset and at least 2 CPUs');
  return possible ? 0 : null;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Moves this process (every thread) to `cpus` (a taskset list, e.g. `1-3`), off the servers' CPU. */
export function pinThisProcess(cpus: string) {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}
