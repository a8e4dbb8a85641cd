/**
 * @module Earlier releases kept the inbox, the dedupe marks, the spill and the dead letters in the
 * store's file. They live in the inbox's own file now; at the first start, what the store's file
 * still holds of them moves over, in one transaction, so nothing acknowledged is left behind.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Database } from 'better-sqlite3';

/** Each table that moves, and its columns (new columns are left to their defaults). */
const tables: Record<string, string> = {
  queue_seen: 'message_id, expires_at',
  queue_inbox: 'message_id, users, accepted_at, attempts, format, received_at, body',
  queue_memory_spill: 'message_id, users, accepted_at, format, received_at, body',
  dead_letters: 'kind, reason, body, encoding, truncated, message_id, created_at',
};

/**
 * Moves the queue's tables out of `storePath` into `inbox` (whose tables exist already): their rows
 * are added, then the old tables dropped. Returns how many rows moved, by table.
 */
export function moveQueueTables(inbox: Database, storePath: string): Record<string, number> {
  if (storePath === ':memory:' || !existsSync(storePath)) return {};
  if (resolve(storePath) === resolve(inbox.name)) return {};
  inbox.prepare('ATTACH DATABASE ? AS old').run(storePath);
  try {
    const present = new Set(
      inbox.prepare<[], string>("SELECT name FROM old.sqlite_master WHERE type = 'table'").pluck().all(),
    );
    const moved: Record<string, number> = {};
    inbox
      .transaction(() => {
        for (const [table, columns] of Object.entries(tables)) {
          if (!present.has(table)) continue;
          // Only the columns the old table has: an older file may lack one (it takes its default).
          const old = new Set(
            inbox
              .prepare<[], { name: string }>(`PRAGMA old.table_info(${table})`)
              .all()
              .map((c) => c.name),
          );
          const kept = columns
            .split(', ')
            .filter((column) => old.has(column))
            .join(', ');
          const { changes } = inbox
            .prepare(`INSERT OR IGNORE INTO main.${table} (${kept}) SELECT ${kept} FROM old.${table}`)
            .run();
          inbox.exec(`DROP TABLE old.${table}`);
          if (changes > 0) moved[table] = changes;
        }
      })
      .immediate();
    return moved;
  } finally {
    inbox.exec('DETACH DATABASE old');
  }
}
