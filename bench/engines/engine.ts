/**
 * @module The one interface every candidate storage engine implements for the engine comparison
 * (bench/engines/cli.ts), and how an engine is named on the command line: `name[:option[=value]]…`,
 * e.g. `sqlite:page=4096:cache=1g:group=100` or `lmdb:encoding=binary`.
 *
 * Every engine keeps the same thing the real stores keep: a last-writer-wins register per
 * (cohortId, userId), decided by `decideBatch` (src/core/store/register.ts), and a member count per
 * cohort moved by each batch's entered minus left.
 */
import type { CohortBatch } from '../../src/core/batch.ts';
import type { Register } from '../../src/core/store/register.ts';

export interface RegisterEngine {
  /** The engine and its effective options, e.g. `lmdb encoding=string pageSize=4096`. */
  readonly name: string;
  /** False for the in-memory reference: nothing survives `close`, so it is not reopened. */
  readonly persistent: boolean;
  /** Opens (creating it if missing) the engine's files in `dir`; opening again after `close` reopens them. */
  open(dir: string): Promise<void>;
  /**
   * Applies `batches` in order, in one commit: each batch sees the registers the ones before it
   * wrote. Resolves once the commit is done (to the engine's durability: see each engine).
   */
  applyGroup(batches: CohortBatch[]): Promise<void>;
  memberCount(cohortId: string): Promise<number>;
  /** The registers stored for `userIds` of `cohortId`, in the same order; undefined where none. */
  readRegisters(cohortId: string, userIds: string[]): Promise<(Register | undefined)[]>;
  /**
   * Bytes the file system allocated to the engine's files, as they are now: not their apparent
   * size, which for lmdb with writemap is the whole (sparse) map.
   */
  sizeOnDisk(): number;
  /** Engine-specific facts worth printing after the run (tree depth, levels, map size…). */
  details?(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** An engine as named on the command line: `lmdb:map=64g:writemap` → name lmdb, options {map: '64g', writemap: ''}. */
export interface EngineSpec {
  /** The text it was parsed from, used as its label in the results. */
  label: string;
  name: string;
  options: Record<string, string>;
}

export const engineNames = ['memory', 'sqlite', 'lmdb', 'level', 'rocksdb'] as const;
export type EngineName = (typeof engineNames)[number];

export function parseEngineSpec(text: string): EngineSpec {
  const [name = '', ...parts] = text.split(':');
  if (!(engineNames as readonly string[]).includes(name)) {
    throw new Error(`Unknown engine "${name}" in "${text}"; expected one of ${engineNames.join(', ')}`);
  }
  const options: Record<string, string> = {};
  for (const part of parts) {
    const equals = part.indexOf('=');
    if (equals === -1) options[part] = '';
    else options[part.slice(0, equals)] = part.slice(equals + 1);
  }
  return { label: text, name, options };
}

/**
 * Reads an engine's options, refusing any it does not know (a typo would otherwise measure the
 * defaults under another label).
 */
export class EngineOptions {
  readonly #options: Record<string, string>;
  readonly #known = new Set<string>();
  readonly #engine: string;

  constructor(spec: EngineSpec) {
    this.#options = spec.options;
    this.#engine = spec.label;
  }

  string<T extends string>(name: string, fallback: T, allowed?: readonly T[]): T {
    this.#known.add(name);
    const value = this.#options[name];
    if (value === undefined) return fallback;
    if (allowed !== undefined && !(allowed as readonly string[]).includes(value)) {
      throw new Error(`${this.#engine}: ${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    }
    return value as T;
  }

  /** A count, or a size with a k/m/g suffix (powers of 1024). */
  number(name: string, fallback: number): number {
    this.#known.add(name);
    const value = this.#options[name];
    if (value === undefined) return fallback;
    const parsed = parseSize(value);
    if (parsed === undefined) throw new Error(`${this.#engine}: ${name} must be a number, got "${value}"`);
    return parsed;
  }

  /** `flag` or `flag=1|true|on` is true, `flag=0|false|off` false. */
  boolean(name: string, fallback: boolean): boolean {
    this.#known.add(name);
    const value = this.#options[name];
    if (value === undefined) return fallback;
    if (['', '1', 'true', 'on', 'yes'].includes(value)) return true;
    if (['0', 'false', 'off', 'no'].includes(value)) return false;
    throw new Error(`${this.#engine}: ${name} must be a boolean, got "${value}"`);
  }

  /** Throws if the spec named an option no reader asked for. Call once every option was read. */
  checkAllKnown(): void {
    const unknown = Object.keys(this.#options).filter((name) => !this.#known.has(name));
    if (unknown.length > 0) {
      throw new Error(
        `${this.#engine}: unknown option(s) ${unknown.join(', ')}; known: ${[...this.#known].join(', ')}`,
      );
    }
  }
}

export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text.trim());
  if (match === null) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

/** Batches per commit an engine asks for with `group=N` (a per-engine override of --group). */
export function groupOption(spec: EngineSpec, fallback: number): number {
  const value = spec.options.group;
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new Error(`${spec.label}: group must be a positive integer`);
  return parsed;
}

/** Creates the engine a spec names (its module is loaded only then, so a missing package fails alone). */
export async function createEngine(spec: EngineSpec): Promise<RegisterEngine> {
  const options = new EngineOptions(spec);
  options.number('group', 0); // read by the child (groupOption), known here so it is not refused
  let engine: RegisterEngine;
  switch (spec.name as EngineName) {
    case 'memory':
      engine = (await import('./memory.ts')).createMemoryEngine(options);
      break;
    case 'sqlite':
      engine = (await import('./sqlite.ts')).createSqliteEngine(options);
      break;
    case 'lmdb':
      engine = (await import('./lmdb.ts')).createLmdbEngine(options);
      break;
    case 'level':
      engine = (await import('./level.ts')).createLevelEngine(options);
      break;
    case 'rocksdb':
      engine = (await import('./rocksdb.ts')).createRocksdbEngine(options);
      break;
  }
  options.checkAllKnown();
  return engine;
}
