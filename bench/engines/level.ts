/**
 * @module LevelDB (npm `classic-level` v3, LevelDB 1.20 with Snappy): an LSM tree. A write goes to
 * the log and the memtable; full memtables become level-0 tables that one background thread
 * compacts into the levels below. Keys and values as bench/engines/kv.ts lays them out.
 *
 * Options (`level:wb=64m:cache=64m`; the defaults here are this bench's, LevelDB's in brackets):
 * - `wb=64m` writeBufferSize, the memtable [4 MiB]: bigger means fewer, larger level-0 tables
 *   (two can be in memory at once, and the log is replayed at open).
 * - `cache=64m` cacheSize, the block cache of uncompressed blocks [8 MiB].
 * - `compression=1` Snappy per block [on]; `block=4096` blockSize [4096]; `file=2m`
 *   maxFileSize, the table size [2 MiB]; `restart=16` blockRestartInterval [16];
 *   `files=1000` maxOpenFiles [1000].
 * - Bloom filter: always on, 10 bits per key (classic-level's binding.cc sets
 *   `NewBloomFilterPolicy(10)`; no option changes it), so a read of a missing key skips almost
 *   every table without reading a data block.
 * - `encoding=string` values as kv.ts's packed text (`utf8`) or `binary` (packed bytes, `buffer`).
 * - `read=getMany` the group's keys read by one `getMany` (on the libuv thread pool, one snapshot),
 *   or `getSync` (one synchronous get per key, on the main thread).
 * - `batch=array` the writes as one `db.batch(operations)`, or `chained` (`db.batch().put()….write()`).
 * - `sync=0` fsync the log on each commit [off]. Off: a commit has reached the OS (a write() of the
 *   log) when it resolves, so it survives a killed process, not a power loss.
 * - `sort=1` keys in order within a group.
 */
import { mkdirSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import type { EngineOptions, RegisterEngine } from './engine.ts';
import {
  binaryCodec,
  countKey,
  decideKvGroup,
  planKvGroup,
  type RegisterCodec,
  registerKey,
  stringCodec,
} from './kv.ts';
import { diskUsage } from './measure.ts';

type Value = string | Buffer;

export function createLevelEngine(options: EngineOptions): RegisterEngine {
  const writeBufferSize = options.number('wb', 64 * 1024 * 1024);
  const cacheSize = options.number('cache', 64 * 1024 * 1024);
  const compression = options.boolean('compression', true);
  const blockSize = options.number('block', 4096);
  const maxFileSize = options.number('file', 2 * 1024 * 1024);
  const blockRestartInterval = options.number('restart', 16);
  const maxOpenFiles = options.number('files', 1000);
  const encoding = options.string('encoding', 'string', ['string', 'binary'] as const);
  const read = options.string('read', 'getMany', ['getMany', 'getSync'] as const);
  const batchStyle = options.string('batch', 'array', ['array', 'chained'] as const);
  const sync = options.boolean('sync', false);
  const sort = options.boolean('sort', true);
  const codec = (encoding === 'string' ? stringCodec : binaryCodec) as RegisterCodec<Value>;
  const valueEncoding = encoding === 'string' ? 'utf8' : 'buffer';

  let dir = '';
  let db: ClassicLevel<string, Value> | undefined;
  const opened = () => {
    if (db === undefined) throw new Error('level engine not open');
    return db;
  };
  const mib = (bytes: number) => `${Math.round((bytes / 2 ** 20) * 10) / 10}MiB`;
  const name = [
    `level wb=${mib(writeBufferSize)} cache=${mib(cacheSize)}`,
    compression ? 'snappy' : 'uncompressed',
    `block=${blockSize} file=${mib(maxFileSize)}`,
    `encoding=${encoding} read=${read} batch=${batchStyle}`,
    sync ? 'sync' : 'no sync',
    sort ? 'sorted' : 'unsorted',
  ].join(' ');

  const readMany = async (database: ClassicLevel<string, Value>, keys: string[]) => {
    if (read === 'getSync') return keys.map((key) => database.getSync(key));
    return database.getMany(keys);
  };

  return {
    name,
    persistent: true,
    async open(directory) {
      dir = directory;
      mkdirSync(dir, { recursive: true });
      db = new ClassicLevel<string, Value>(dir, {
        keyEncoding: 'utf8',
        valueEncoding,
        writeBufferSize,
        cacheSize,
        compression,
        blockSize,
        maxFileSize,
        blockRestartInterval,
        maxOpenFiles,
      });
      await db.open();
    },
    async applyGroup(batches) {
      const database = opened();
      const group = planKvGroup(batches, sort);
      const values = await readMany(database, group.keys);
      const entries = decideKvGroup(batches, group, values, codec);
      if (batchStyle === 'chained') {
        const batch = database.batch();
        for (const [key, value] of entries) batch.put(key, value);
        await batch.write({ sync });
      } else {
        await database.batch(
          entries.map(([key, value]) => ({ type: 'put' as const, key, value })),
          { sync },
        );
      }
    },
    async memberCount(cohortId) {
      const value = await opened().get(countKey(cohortId));
      return value === undefined ? 0 : codec.decodeCount(value);
    },
    async readRegisters(cohortId, userIds) {
      const values = await opened().getMany(userIds.map((userId) => registerKey(cohortId, userId)));
      return values.map((value) => (value === undefined ? undefined : codec.decode(value)));
    },
    sizeOnDisk: () => diskUsage(dir).allocated,
    async details() {
      const database = opened();
      const filesPerLevel = [0, 1, 2, 3, 4, 5, 6].map((level) =>
        Number(database.getProperty(`leveldb.num-files-at-level${level}`)),
      );
      return {
        filesPerLevel: filesPerLevel.join('/'),
        approximateMemoryBytes: Number(database.getProperty('leveldb.approximate-memory-usage')),
      };
    },
    async close() {
      await db?.close();
      db = undefined;
    },
  };
}
