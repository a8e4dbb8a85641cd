/**
 * @module The inspector's tables in the shared SQLite file, prefixed `inspect_`: one row per answered
 * request, and one per message_id for what arrives later or elsewhere (duplicates, apply and sink
 * results), so an apply result written before its receipt still finds it.
 */
import type { Database } from 'better-sqlite3';

/** What the list queries select: a delivery joined with its message's later results. */
export interface DeliveryRow {
  id: number;
  /** The receipt as JSON: read back verbatim, whatever it holds. */
  receipt: string;
  duplicates: number | null;
  /** The apply result as JSON, without its sinks. */
  applied: string | null;
  /** The sink results as a JSON array. */
  sinks: string | null;
}

export const deliveryColumns = 'd.id, d.receipt, m.duplicates, m.applied, m.sinks';

export function createSqliteDeliveryTables(db: Database): void {
  // The filter columns are copies of receipt fields; the few indexes keep each write cheap, and
  // with at most INSPECT_MAX_DELIVERIES rows a filter that scans by id is still quick.
  db.exec(`CREATE TABLE IF NOT EXISTS inspect_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    outcome TEXT NOT NULL,
    cohort_id TEXT,
    in_cohort INTEGER,
    received_at INTEGER NOT NULL,
    receipt TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS inspect_deliveries_message ON inspect_deliveries (message_id)
    WHERE message_id IS NOT NULL;
  CREATE TABLE IF NOT EXISTS inspect_messages (
    message_id TEXT PRIMARY KEY,
    delivery_id INTEGER,
    duplicates INTEGER NOT NULL DEFAULT 0,
    applied TEXT,
    sinks TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS inspect_messages_delivery ON inspect_messages (delivery_id);`);
}
