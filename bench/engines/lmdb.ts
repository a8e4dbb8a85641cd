/**
 * @module LMDB (npm `lmdb`, lmdb-js v3): one B+tree in a memory-mapped file, copy-on-write pages,
 * one writer. Keys and values as bench/engines/kv.ts lays them out.
 *
 * Options (`lmdb:encoding=binary:txn=puts`):
 * - `encoding=string` how a register is stored: `string` (kv.ts's packed text, lmdb's `string`
 *   encoding), `binary` (kv.ts's packed bytes, `binary` encoding), `msgpack` (an array
 *   [flags, computedTime, messageId, properties] through lmdb's msgpackr, which encodes into a reused
 *   buffer), `object` (the Register object itself, lmdb's default msgpack: the baseline to beat).
 * - `txn=sync` how a group commits: `sync` reads, decides and writes inside one `transactionSync`
 *   on the main thread; `async` does the same inside `db.transaction` (the callback runs on the
 *   main thread while lmdb's write thread holds the transaction); `puts` reads first, then queues
 *   the puts in one `db.batch`: they are encoded on the main thread and applied to the tree, and
 *   committed, by lmdb's write thread, and the group resolves when that commit is done.
 * - `read=get` `get` reads the group's keys in key order with synchronous gets (inside the
 *   transaction for sync/async); `getMany` prefetches them on another thread first (`db.getMany`).
 * - `sort=1` keys in order within a group (reads and writes).
 * - `nosync=1` noSync: commits are not fsynced; a commit survives a killed process, not a power
 *   loss or OS crash (which, per LMDB's docs, can then also corrupt the file). `nosync=0` keeps
 *   lmdb-js's default, overlappingSync (the fsync runs after the commit, off the writer's lock).
 * - `page=4096` page size of a new file (lmdb-js: the OS page size); `map=SIZE` the initial map
 *   size (lmdb-js starts at 128 KiB and grows it by itself, see README.md); `writemap=0`
 *   useWritemap; `nomeminit=0` noMemInit; `compression=0` lmdb-js's LZ4 (only values over 1000
 *   bytes are compressed: none of ours).
 */
import { mkdirSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import type { CohortBatch } from '../../src/core/batch.ts';
import type { Register } from '../../src/core/store/register.ts';
import type { EngineOptions, RegisterEngine } from './engine.ts';
import {
  binaryCodec,
  countKey,
  decideKvGroup,
  type KvGroup,
  planKvGroup,
  type RegisterCodec,
  registerKey,
  stringCodec,
} from './kv.ts';
import { diskUsage } from './measure.ts';

type Packed = [flags: number, computedTime: number, messageId: string, properties: string | null];

/** A register as a 4-element array, for lmdb's msgpack encoding. */
const arrayCodec: RegisterCodec<Packed | number> = {
  name: 'msgpack',
  encode: ({ inCohort, computedTime, messageId, propertiesJson }) => [
    inCohort ? 1 : 0,
    computedTime,
    messageId,
    propertiesJson,
  ],
  decode: (value) => {
    const [flags, computedTime, messageId, propertiesJson] = value as Packed;
    return { inCohort: flags === 1, computedTime, messageId, propertiesJson };
  },
  encodeCount: (count) => count,
  decodeCount: (value) => value as number,
};

/** The Register object as it is, for lmdb's default msgpack of a JS object. */
const objectCodec: RegisterCodec<Register | number> = {
  name: 'object',
  encode: (register) => register,
  decode: (value) => {
    const { inCohort, computedTime, messageId, propertiesJson } = value as Register;
    return { inCohort, computedTime, messageId, propertiesJson };
  },
  encodeCount: (count) => count,
  decodeCount: (value) => value as number,
};

const codecs = {
  string: stringCodec,
  binary: binaryCodec,
  msgpack: arrayCodec,
  object: objectCodec,
} as const;
const lmdbEncodings = { string: 'string', binary: 'binary', msgpack: 'msgpack', object: 'msgpack' } as const;

export function createLmdbEngine(options: EngineOptions): RegisterEngine {
  const encoding = options.string('encoding', 'string', ['string', 'binary', 'msgpack', 'object'] as const);
  const txn = options.string('txn', 'sync', ['sync', 'async', 'puts'] as const);
  const read = options.string('read', 'get', ['get', 'getMany'] as const);
  const sort = options.boolean('sort', true);
  const noSync = options.boolean('nosync', true);
  const pageSize = options.number('page', 4096);
  const mapSize = options.number('map', 0);
  const useWritemap = options.boolean('writemap', false);
  const noMemInit = options.boolean('nomeminit', false);
  const compression = options.boolean('compression', false);
  // Each codec is typed for its own values; the engine passes values between get and put untouched.
  const codec = codecs[encoding] as RegisterCodec<unknown>;

  let dir = '';
  let db: RootDatabase<unknown, string> | undefined;
  const opened = () => {
    if (db === undefined) throw new Error('lmdb engine not open');
    return db;
  };

  const name = [
    `lmdb encoding=${encoding} txn=${txn} read=${read}`,
    sort ? 'sorted' : 'unsorted',
    noSync ? 'noSync' : 'overlappingSync',
    `page=${pageSize}`,
    mapSize > 0 ? `map=${Math.round(mapSize / 2 ** 20)}MiB` : 'map=auto',
    useWritemap ? 'writemap' : '',
    noMemInit ? 'noMemInit' : '',
    compression ? 'lz4' : '',
  ]
    .filter(Boolean)
    .join(' ');

  /** Reads (unless read before), decides and writes a group inside the current write transaction. */
  const applyInTransaction = (
    database: RootDatabase<unknown, string>,
    batches: CohortBatch[],
    group: KvGroup,
    values?: unknown[],
  ) => {
    const read = values ?? group.keys.map((key) => database.get(key));
    for (const [key, value] of decideKvGroup(batches, group, read, codec)) database.putSync(key, value);
  };

  return {
    name,
    persistent: true,
    async open(directory) {
      dir = directory;
      mkdirSync(dir, { recursive: true });
      db = open<unknown, string>({
        path: dir,
        encoding: lmdbEncodings[encoding],
        noSync,
        pageSize,
        ...(mapSize > 0 ? { mapSize } : {}),
        useWritemap,
        noMemInit,
        compression,
      });
    },
    async applyGroup(batches) {
      const database = opened();
      const group = planKvGroup(batches, sort);
      const values = read === 'getMany' || txn === 'puts' ? await database.getMany(group.keys) : undefined;
      if (txn === 'sync') {
        database.transactionSync(() => applyInTransaction(database, batches, group, values));
      } else if (txn === 'async') {
        await database.transaction(() => applyInTransaction(database, batches, group, values));
      } else {
        const entries = decideKvGroup(batches, group, values ?? [], codec);
        await database.batch(() => {
          for (const [key, value] of entries) void database.put(key, value);
        });
      }
    },
    async memberCount(cohortId) {
      const value = opened().get(countKey(cohortId));
      return value === undefined ? 0 : codec.decodeCount(value);
    },
    async readRegisters(cohortId, userIds) {
      const database = opened();
      return userIds.map((userId) => {
        const value = database.get(registerKey(cohortId, userId));
        return value === undefined ? undefined : codec.decode(value);
      });
    },
    sizeOnDisk: () => diskUsage(dir).allocated,
    async details() {
      const stats = opened().getStats() as Record<string, unknown>;
      const pick = [
        'pageSize',
        'treeDepth',
        'treeBranchPageCount',
        'treeLeafPageCount',
        'entryCount',
        'overflowPages',
        'mapSize',
        'lastPageNumber',
        'free',
      ];
      return Object.fromEntries(pick.filter((key) => key in stats).map((key) => [key, stats[key]]));
    },
    async close() {
      await db?.close();
      db = undefined;
    },
  };
}
