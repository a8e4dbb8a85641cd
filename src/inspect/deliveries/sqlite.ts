/**
 * @module The Log.DeliveryLog in the shared SQLite file (QUEUE=sqlite): survives restarts. Recording
 * only buffers; the buffer is written in one transaction every 100 ms (`flush-timer.ts`), so a busy
 * receiver pays one commit per interval instead of one per request, and never one before a 200.
 */
import type { Database } from 'better-sqlite3';
import type * as Log from './delivery-log.ts';
import { defaultMaxDeliveries } from './delivery-log.ts';
import { createFlushTimer, defaultFlushIntervalMs } from './flush-timer.ts';
import { cohortActivityOf, withSink } from './rows.ts';
import { createSqliteDeliveryTables, type DeliveryRow, deliveryColumns } from './sqlite-schema.ts';

export interface SqliteDeliveryLogOptions {
  /** @default 10_000 */
  maxDeliveries?: number;
  /** How long a recorded item may wait to be written with the next ones. @default 100 */
  flushIntervalMs?: number;
  /** Told when a buffered write fails (the items are dropped: the log is not worth a retry loop). */
  onError?: (error: Error) => void;
}

type Recorded =
  | { kind: 'receipt'; receipt: Log.DeliveryReceipt }
  | { kind: 'applied'; result: Log.ApplyResult }
  | { kind: 'sink'; messageId: string; result: Log.SinkResult };

/** A burst this large is written at once rather than held for the timer. */
const maxBuffered = 1000;

/** Results for a message whose receipt is not written yet (or never will be) go after a day. */
const ORPHAN_MS = 24 * 60 * 60 * 1000;

/** The caller owns `db` and closes it. */
export function createSqliteDeliveryLog(
  db: Database,
  options: SqliteDeliveryLogOptions = {},
): Log.DeliveryLog {
  const max = options.maxDeliveries ?? defaultMaxDeliveries;
  createSqliteDeliveryTables(db);
  const statements = prepare(db);
  let buffer: Recorded[] = [];
  const timer = createFlushTimer(() => flushNow(), options.flushIntervalMs ?? defaultFlushIntervalMs);
  let closed = false;

  const write = db.transaction((items: Recorded[]) => {
    for (const item of items) {
      if (item.kind === 'receipt') writeReceipt(statements, item.receipt);
      else if (item.kind === 'applied') writeApplied(statements, item.result);
      else writeSinkResult(statements, item.messageId, item.result);
    }
    // Ids have no gaps (AUTOINCREMENT, and rows go only from the bottom), so this keeps exactly `max`
    // without the O(max) scan an OFFSET would cost on every flush.
    const cutoff = (statements.newestId.get() ?? 0) - max;
    if (cutoff > 0) {
      statements.trimMessages.run(cutoff);
      statements.trimDeliveries.run(cutoff);
    }
    statements.trimOrphans.run(Date.now() - ORPHAN_MS);
  });

  function flushNow() {
    timer.cancel();
    if (buffer.length === 0 || closed) return;
    const items = buffer;
    buffer = [];
    try {
      write.immediate(items);
    } catch (error) {
      options.onError?.(error as Error);
    }
  }

  function enqueue(item: Recorded) {
    if (closed) return;
    buffer.push(item);
    if (buffer.length >= maxBuffered) flushNow();
    else timer.schedule();
  }

  const rows = (query: Log.DeliveryQuery): Log.Delivery[] => {
    const { where, values } = whereOf(query);
    return statements
      .select(`${where} ORDER BY d.id DESC LIMIT ?`)
      .all(...values, query.limit + 1)
      .map(toDelivery);
  };

  return {
    recordReceipt: (receipt) => enqueue({ kind: 'receipt', receipt }),
    recordApplied: (result) => enqueue({ kind: 'applied', result }),
    recordSinkResult: (messageId, result) => enqueue({ kind: 'sink', messageId, result }),

    async list(query) {
      flushNow();
      const found = rows(query);
      const more = found.length > query.limit;
      const deliveries = found.slice(0, query.limit);
      return { deliveries, nextCursor: more ? (deliveries.at(-1) as Log.Delivery).id : null };
    },

    async get(messageId) {
      flushNow();
      const row = statements.getAccepted.get(messageId) ?? statements.getNewest.get(messageId);
      return row && toDelivery(row);
    },

    async since(afterId, limit) {
      flushNow();
      const after = cursorOf(afterId);
      const found =
        after === undefined ? statements.newest.all(limit).reverse() : statements.after.all(after, limit);
      return found.map(toDelivery);
    },

    async cohortActivity() {
      flushNow();
      return cohortActivityOf(statements.accepted.all().map(toDelivery));
    },

    async retention() {
      flushNow();
      const { kept, oldestAt } = statements.retention.get() as { kept: number; oldestAt: number | null };
      return { kept, max, oldestAt };
    },

    async flush() {
      flushNow();
    },

    async close() {
      flushNow();
      closed = true;
    },
  };
}

function prepare(db: Database) {
  const select = (rest: string) =>
    db.prepare<unknown[], DeliveryRow>(
      `SELECT ${deliveryColumns} FROM inspect_deliveries d LEFT JOIN inspect_messages m ON m.delivery_id = d.id ${rest}`,
    );
  const selectCache = new Map<string, ReturnType<typeof select>>();
  return {
    select(rest: string) {
      let statement = selectCache.get(rest);
      if (!statement) {
        statement = select(rest);
        selectCache.set(rest, statement);
      }
      return statement;
    },
    insertDelivery: db.prepare(
      'INSERT INTO inspect_deliveries (message_id, outcome, cohort_id, in_cohort, received_at, receipt) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    acceptMessage: db.prepare(
      `INSERT INTO inspect_messages (message_id, delivery_id, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (message_id) DO UPDATE SET delivery_id = excluded.delivery_id, updated_at = excluded.updated_at`,
    ),
    countDuplicate: db.prepare(
      `INSERT INTO inspect_messages (message_id, duplicates, updated_at) VALUES (?, 1, ?)
       ON CONFLICT (message_id) DO UPDATE SET duplicates = duplicates + 1, updated_at = excluded.updated_at`,
    ),
    readSinks: db.prepare<[string], { sinks: string }>(
      'SELECT sinks FROM inspect_messages WHERE message_id = ?',
    ),
    writeApplied: db.prepare(
      `INSERT INTO inspect_messages (message_id, applied, sinks, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (message_id) DO UPDATE SET applied = excluded.applied, sinks = excluded.sinks, updated_at = excluded.updated_at`,
    ),
    writeSinks: db.prepare(
      `INSERT INTO inspect_messages (message_id, sinks, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (message_id) DO UPDATE SET sinks = excluded.sinks, updated_at = excluded.updated_at`,
    ),
    newestId: db.prepare<[], number | null>('SELECT MAX(id) FROM inspect_deliveries').pluck(),
    trimMessages: db.prepare('DELETE FROM inspect_messages WHERE delivery_id <= ?'),
    trimDeliveries: db.prepare('DELETE FROM inspect_deliveries WHERE id <= ?'),
    trimOrphans: db.prepare('DELETE FROM inspect_messages WHERE delivery_id IS NULL AND updated_at < ?'),
    getAccepted: select('WHERE m.message_id = ?'),
    getNewest: select('WHERE d.message_id = ? ORDER BY d.id DESC LIMIT 1'),
    newest: select('ORDER BY d.id DESC LIMIT ?'),
    after: select('WHERE d.id > ? ORDER BY d.id LIMIT ?'),
    accepted: select("WHERE d.outcome = 'accepted'"),
    retention: db.prepare(
      'SELECT COUNT(*) AS kept, (SELECT received_at FROM inspect_deliveries ORDER BY id LIMIT 1) AS oldestAt FROM inspect_deliveries',
    ),
  };
}

type Statements = ReturnType<typeof prepare>;

function writeReceipt(statements: Statements, receipt: Log.DeliveryReceipt) {
  const { lastInsertRowid } = statements.insertDelivery.run(
    receipt.messageId,
    receipt.outcome,
    receipt.cohortId ?? null,
    receipt.inCohort === undefined ? null : Number(receipt.inCohort),
    receipt.receivedAt,
    JSON.stringify(receipt),
  );
  if (receipt.messageId === null) return;
  if (receipt.outcome === 'accepted') {
    statements.acceptMessage.run(receipt.messageId, lastInsertRowid, Date.now());
  } else if (receipt.outcome === 'duplicate') {
    statements.countDuplicate.run(receipt.messageId, Date.now());
  }
}

function writeApplied(statements: Statements, result: Log.ApplyResult) {
  let sinks = sinksOf(statements, result.messageId);
  for (const sink of result.sinks) sinks = withSink(sinks, sink);
  const { sinks: _, ...applied } = result;
  statements.writeApplied.run(result.messageId, JSON.stringify(applied), JSON.stringify(sinks), Date.now());
}

function writeSinkResult(statements: Statements, messageId: string, result: Log.SinkResult) {
  const sinks = withSink(sinksOf(statements, messageId), result);
  statements.writeSinks.run(messageId, JSON.stringify(sinks), Date.now());
}

function sinksOf(statements: Statements, messageId: string): Log.SinkResult[] {
  const row = statements.readSinks.get(messageId);
  return row ? JSON.parse(row.sinks) : [];
}

function toDelivery(row: DeliveryRow): Log.Delivery {
  const delivery: Log.Delivery = {
    ...JSON.parse(row.receipt),
    id: String(row.id),
    duplicates: row.duplicates ?? 0,
  };
  if (row.applied !== null)
    delivery.applied = { ...JSON.parse(row.applied), sinks: JSON.parse(row.sinks ?? '[]') };
  return delivery;
}

function whereOf(query: Log.DeliveryQuery): { where: string; values: (string | number)[] } {
  const conditions: string[] = [];
  const values: (string | number)[] = [];
  const add = (condition: string, value: string | number) => {
    conditions.push(condition);
    values.push(value);
  };
  if (query.outcome !== undefined) add('d.outcome = ?', query.outcome);
  if (query.cohortId !== undefined) add('d.cohort_id = ?', query.cohortId);
  if (query.inCohort !== undefined) add('d.in_cohort = ?', Number(query.inCohort));
  if (query.from !== undefined) add('d.received_at >= ?', query.from);
  if (query.to !== undefined) add('d.received_at < ?', query.to);
  const before = cursorOf(query.before);
  if (before !== undefined) add('d.id < ?', before);
  return { where: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, values };
}

/** A cursor this log issued; anything else (a hand-edited URL) reads as no cursor. */
function cursorOf(id: string | undefined): number | undefined {
  return id !== undefined && /^\d{1,15}$/.test(id) ? Number(id) : undefined;
}
