/**
 * @module RocksDB (npm `@nxtedition/rocksdb`, an abstract-level v1 binding that ships a linux-x64
 * prebuild in the package): an LSM tree like LevelDB, with more background threads and more knobs.
 * Optional: when the package is not installed, this engine fails alone and the others run.
 *
 * Options (`rocksdb:cache=64m:optimize=point-lookup`; the binding's defaults in brackets):
 * - `cache=64m` cacheSize, a HyperClockCache of blocks [8 MiB].
 * - `compression=1` ZSTD with a 16 KiB dictionary per table [on].
 * - `optimize=` `point-lookup`: a Ribbon filter, hash index in data blocks and a memtable bloom
 *   filter; otherwise a Bloom filter of 10 bits per key [always on]. `filter=` any RocksDB filter
 *   policy string, e.g. `bloomfilter:10:false`.
 * - `compaction=` `level` or `universal` with `budget=256m` (memtableMemoryBudget): sizes the
 *   memtables (budget/4 each, up to 6) and levels as RocksDB's OptimizeLevelStyleCompaction does.
 *   Unset: RocksDB's defaults (64 MiB memtable, 2 of them, level compaction).
 * - `block=4096` blockSize; `parallelism=` background threads [cores/2, so 1 here].
 * - `sync=0` fsync the WAL on each commit [off]; `sort=1`; `read=getMany` (thread pool) or
 *   `getManySync`.
 * The binding writes a batch synchronously on the main thread (memtable insert and WAL write).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { EngineOptions, RegisterEngine } from './engine.ts';
import { countKey, decideKvGroup, planKvGroup, registerKey, stringCodec } from './kv.ts';
import { diskUsage } from './measure.ts';

/** The part of the binding's RocksLevel class this engine uses (the package has no types). */
interface RocksLevel {
  open(): Promise<void>;
  close(): Promise<void>;
  getMany(keys: string[], options?: object): Promise<(string | undefined)[]>;
  _getManySync(keys: string[], options?: object): (string | Buffer | undefined)[];
  batch(operations: { type: 'put'; key: string; value: string }[], options?: object): Promise<void>;
  getProperty(property: string): string;
}
type RocksLevelClass = new (location: string, options: Record<string, unknown>) => RocksLevel;

export function createRocksdbEngine(options: EngineOptions): RegisterEngine {
  const cacheSize = options.number('cache', 64 * 1024 * 1024);
  const compression = options.boolean('compression', true);
  const optimize = options.string('optimize', '', ['', 'point-lookup'] as const);
  const filterPolicy = options.string('filter', '');
  const compaction = options.string('compaction', '', ['', 'level', 'universal'] as const);
  const memtableMemoryBudget = options.number('budget', 256 * 1024 * 1024);
  const blockSize = options.number('block', 4096);
  const parallelism = options.number('parallelism', 0);
  const sync = options.boolean('sync', false);
  const sort = options.boolean('sort', true);
  const read = options.string('read', 'getMany', ['getMany', 'getManySync'] as const);
  const codec = stringCodec;

  const { RocksLevel } = createRequire(import.meta.url)('@nxtedition/rocksdb') as {
    RocksLevel: RocksLevelClass;
  };

  let dir = '';
  let db: RocksLevel | undefined;
  const opened = () => {
    if (db === undefined) throw new Error('rocksdb engine not open');
    return db;
  };
  const readMany = async (database: RocksLevel, keys: string[]): Promise<(string | undefined)[]> => {
    if (read === 'getMany') return database.getMany(keys);
    return database._getManySync(keys, { valueEncoding: 'utf8' }).map((value) => value?.toString());
  };

  const name = [
    `rocksdb cache=${Math.round(cacheSize / 2 ** 20)}MiB`,
    compression ? 'zstd' : 'uncompressed',
    optimize ? `optimize=${optimize}` : '',
    filterPolicy ? `filter=${filterPolicy}` : 'bloom 10 bits',
    compaction
      ? `compaction=${compaction} budget=${Math.round(memtableMemoryBudget / 2 ** 20)}MiB`
      : 'default memtables',
    `block=${blockSize}`,
    parallelism > 0 ? `parallelism=${parallelism}` : '',
    `read=${read}`,
    sync ? 'sync' : 'no sync',
    sort ? 'sorted' : 'unsorted',
  ]
    .filter(Boolean)
    .join(' ');

  return {
    name,
    persistent: true,
    async open(directory) {
      dir = directory;
      mkdirSync(dir, { recursive: true });
      db = new RocksLevel(dir, {
        keyEncoding: 'utf8',
        valueEncoding: 'utf8',
        cacheSize,
        compression,
        blockSize,
        ...(optimize ? { optimize } : {}),
        ...(filterPolicy ? { filterPolicy } : {}),
        ...(compaction ? { compaction, memtableMemoryBudget } : {}),
        ...(parallelism > 0 ? { parallelism } : {}),
      });
      await db.open();
    },
    async applyGroup(batches) {
      const database = opened();
      const group = planKvGroup(batches, sort);
      const values = await readMany(database, group.keys);
      const entries = decideKvGroup(batches, group, values, codec);
      await database.batch(
        entries.map(([key, value]) => ({ type: 'put' as const, key, value })),
        { sync },
      );
    },
    async memberCount(cohortId) {
      const [value] = await opened().getMany([countKey(cohortId)]);
      return value === undefined ? 0 : codec.decodeCount(value);
    },
    async readRegisters(cohortId, userIds) {
      const values = await opened().getMany(userIds.map((userId) => registerKey(cohortId, userId)));
      return values.map((value) => (value === undefined ? undefined : codec.decode(value)));
    },
    sizeOnDisk: () => diskUsage(dir).allocated,
    async details() {
      const database = opened();
      const property = (name: string) => {
        try {
          return database.getProperty(name);
        } catch {
          return undefined;
        }
      };
      return {
        levels: property('rocksdb.levelstats')
          ?.split('\n')
          .slice(2)
          .filter(Boolean)
          .map((line) => line.trim().replace(/\s+/g, ' '))
          .join('; '),
        estimateKeys: Number(property('rocksdb.estimate-num-keys')),
        pendingCompactionBytes: Number(property('rocksdb.estimate-pending-compaction-bytes')),
      };
    },
    async close() {
      await db?.close();
      db = undefined;
    },
  };
}
