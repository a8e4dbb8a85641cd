/**
 * @module The SQLite queue's consuming side: hands the inbox's oldest rows over, up to `inFlight`
 * rows and `inFlightUsers` users at once, each until its handler resolves, then removes it; looks
 * again when woken, or after a pause for rows another process added. Only the rows in hand are in
 * memory, whatever the backlog.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { type HandOverRules, handOverUntilDone, type WaitingBatch } from '../core/queue/hand-over.ts';
import type { QueueConsumer } from '../runtime/durable-queue.ts';
import { queuedBody } from '../runtime/stored-batch.ts';
import type { InboxRow } from './inbox-schema.ts';

export interface SqliteConsumerOptions {
  redeliveryDelayMs: number;
  /** Rows handed over at once: more let a store that groups commits fill a group. */
  inFlight: number;
  /**
   * Users in hand at once, whatever the rows' sizes: a row is read while fewer are in hand (so one
   * always goes). Only the rows in hand are in memory, so this bounds the consumer's memory.
   */
  inFlightUsers?: number | undefined;
  /** How often an idle consumer looks for rows another process (the dlq CLI) inserted. */
  pollIntervalMs: number;
  /** Told when a handed-over row left the inbox, with its body's length. */
  onRemoved: (bytes: number) => void;
}

export interface SqliteConsumer extends QueueConsumer {
  /** Looks at the inbox at once instead of after the poll interval. */
  wake(): void;
}

// The head's ids first (the rowid index alone), then the rows not in hand yet: a row in hand is not
// read again, and a row another process adds is found wherever its id falls.
const SELECT_HEAD_IDS = 'SELECT id FROM queue_inbox ORDER BY id LIMIT ?';
const SELECT_ROW =
  'SELECT id, message_id, users, bytes, accepted_at, attempts, format, received_at, body FROM queue_inbox WHERE id = ?';

type InboxEntry = WaitingBatch & { id: number };

/**
 * Rows read in one turn of the event loop: a backlog fills hundreds of rows in hand, and reading
 * them all at once (megabytes of bodies) would hold the webhooks waiting for that turn.
 */
const rowsPerTurn = 8;

/** Expects the tables (`createQueueTables`). */
export function createSqliteConsumer(db: Database, options: SqliteConsumerOptions): SqliteConsumer {
  const { pollIntervalMs } = options;
  const selectHeadIds = db.prepare<[number], number>(SELECT_HEAD_IDS).pluck();
  const selectRow = db.prepare<[number], InboxRow>(SELECT_ROW);
  const countAttempt = db.prepare<[number]>('UPDATE queue_inbox SET attempts = attempts + 1 WHERE id = ?');
  const giveBackAttempt = db.prepare<[number]>(
    'UPDATE queue_inbox SET attempts = attempts - 1 WHERE id = ? AND attempts > 0',
  );
  const deleteEntry = db.prepare<[number]>('DELETE FROM queue_inbox WHERE id = ?');

  const maxUsers = options.inFlightUsers ?? Number.POSITIVE_INFINITY;
  let usersInHand = 0;
  /** Set while a row that was in hand when a process died is handed over, alone. */
  let alone = false;
  let rules: HandOverRules<InboxEntry> | undefined;
  let reading = true;
  let closed = false;
  let running = false;
  const inHand = new Set<number>();
  /** Set while the loop waits for work: ends the wait at once. */
  let endWait: (() => void) | undefined;
  const waitForWork = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      endWait = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      endWait = undefined;
    });

  const toEntry = (row: InboxRow): InboxEntry => ({
    id: row.id,
    messageId: row.message_id,
    users: row.users,
    body: queuedBody(row.format, row.body),
    receivedAt: row.received_at,
    acceptedAt: row.accepted_at,
    handedOver: row.attempts,
  });

  /** Hands a row over until its handler resolves, then removes it. */
  const handOver = async (row: InboxRow) => {
    try {
      // biome-ignore lint/style/noNonNullAssertion: the loop only runs once start() set them.
      if (!(await handOverUntilDone(toEntry(row), rules!))) return;
      deleteEntry.run(row.id);
      options.onRemoved(row.bytes);
    } catch {
      // Busy or closing: the row stays, and is handed over again (after a restart if need be).
      await sleep(pollIntervalMs);
    } finally {
      inHand.delete(row.id);
      usersInHand -= row.users;
      alone = false;
      endWait?.();
    }
  };

  const hasRoom = (rows: number, users: number) => !alone && rows < options.inFlight && users < maxUsers;

  /**
   * The oldest rows not in hand, as many as there is room for. A row handed over before and never
   * done was in hand when a process died: it goes alone, once nothing else is in hand, so a crash
   * counts against the row that may have caused it, not against the hundreds in hand beside it.
   */
  const nextRows = (): InboxRow[] => {
    const rows: InboxRow[] = [];
    let users = usersInHand;
    try {
      const ids = selectHeadIds.all(options.inFlight).filter((id) => !inHand.has(id));
      for (const id of ids) {
        if (rows.length === rowsPerTurn || !hasRoom(inHand.size + rows.length, users)) break;
        const row = selectRow.get(id);
        if (row === undefined) continue;
        if (row.attempts > 0) {
          if (inHand.size === 0 && rows.length === 0) {
            alone = true;
            rows.push(row);
          }
          break;
        }
        rows.push(row);
        users += row.users;
      }
    } catch {
      // Busy or closing: what was read goes, and the rest is looked for again after a pause.
    }
    return rows;
  };

  const readLoop = async () => {
    while (!closed && reading) {
      const rows = hasRoom(inHand.size, usersInHand) ? nextRows() : [];
      for (const row of rows) {
        inHand.add(row.id);
        usersInHand += row.users;
        void handOver(row);
      }
      // Woken by a row done (room again) or added; else after the pause, for another process's rows.
      if (rows.length === 0) await waitForWork(pollIntervalMs);
      else await nextTurn();
    }
    // Stopped reading: the rows in hand are still handed over.
    while (inHand.size > 0) await waitForWork(pollIntervalMs);
  };

  return {
    start(handler) {
      const started = rules !== undefined;
      rules = {
        handler,
        redeliveryDelayMs: options.redeliveryDelayMs,
        isClosed: () => closed,
        // Counted before each attempt, in the file: a crash during it still counts.
        beforeAttempt: (entry) => countAttempt.run(entry.id),
        // Given back unfinished (a shutdown while the store is away): not an attempt that failed.
        onHandBack: (entry) => giveBackAttempt.run(entry.id),
      };
      if (started) return;
      running = true;
      void readLoop().finally(() => {
        running = false;
      });
    },
    wake: () => endWait?.(),
    stopReading() {
      reading = false;
      endWait?.();
    },
    hasStopped: () => !running,
    holdsNothing: () => inHand.size === 0,
    close() {
      closed = true;
      endWait?.();
    },
  };
}
