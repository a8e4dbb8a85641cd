/**
 * @module Sink control in the SQLite inbox file: the state as JSON by key, the waiting changes as
 * rows in their order. better-sqlite3 is synchronous, so each operation is one transaction and
 * `admit` sees pause, hold and release atomically.
 */
import type { Database } from 'better-sqlite3';
import type { MembershipChange } from '../core/store/store.ts';
import type { ControlState, ControlStore, ExitWindow } from './control-store.ts';

const schema = `
CREATE TABLE IF NOT EXISTS sink_control (
  key   TEXT PRIMARY KEY, -- paused:<sink>, hold:<cohort>, backfill:<sink>, window:<cohort>, lease:<sink>
  value TEXT NOT NULL     -- JSON
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sink_waiting (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  sink   TEXT NOT NULL,
  hold   TEXT,            -- the held cohort; NULL once it may go
  change TEXT NOT NULL    -- JSON of the MembershipChange
);
CREATE INDEX IF NOT EXISTS sink_waiting_order ON sink_waiting (sink, hold, seq);
`;

const sections = { paused: 'paused:', holds: 'hold:', backfills: 'backfill:' } as const;

export function createSqliteControl(db: Database, now: () => number = Date.now): ControlStore {
  db.exec(schema);
  const get = db.prepare<[string], { value: string }>('SELECT value FROM sink_control WHERE key = ?');
  const put = db.prepare<[string, string]>(
    'INSERT INTO sink_control (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const putNew = db.prepare<[string, string]>(
    'INSERT OR IGNORE INTO sink_control (key, value) VALUES (?, ?)',
  );
  const drop = db.prepare<[string]>('DELETE FROM sink_control WHERE key = ?');
  const all = db.prepare<[], { key: string; value: string }>(
    "SELECT key, value FROM sink_control WHERE key GLOB 'paused:*' OR key GLOB 'hold:*' OR key GLOB 'backfill:*'",
  );
  const anyWaiting = db.prepare<[string]>(
    'SELECT 1 FROM sink_waiting WHERE sink = ? AND hold IS NULL LIMIT 1',
  );
  const park = db.prepare<[string, string | null, string]>(
    'INSERT INTO sink_waiting (sink, hold, change) VALUES (?, ?, ?)',
  );
  const oldest = db.prepare<[string, number], { seq: number; change: string }>(
    'SELECT seq, change FROM sink_waiting WHERE sink = ? AND hold IS NULL ORDER BY seq LIMIT ?',
  );
  const removeOne = db.prepare<[string, number]>('DELETE FROM sink_waiting WHERE sink = ? AND seq = ?');
  const counts = db.prepare<[string], { held: number; total: number }>(
    'SELECT count(hold) AS held, count(*) AS total FROM sink_waiting WHERE sink = ?',
  );
  const releaseRows = db.prepare<[string]>('UPDATE sink_waiting SET hold = NULL WHERE hold = ?');
  const discardRows = db.prepare<[string]>('DELETE FROM sink_waiting WHERE hold = ?');
  const heldCohorts = db.prepare<[], { cohort: string }>(
    "SELECT substr(key, 6) AS cohort FROM sink_control WHERE key GLOB 'hold:*'",
  );

  const read = <T>(key: string): T | undefined => {
    const row = get.get(key);
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  };
  const state = (): ControlState => {
    const found: ControlState = { paused: {}, holds: {}, backfills: {} };
    for (const { key, value } of all.all()) {
      for (const [section, prefix] of Object.entries(sections) as [keyof ControlState, string][]) {
        if (key.startsWith(prefix)) found[section][key.slice(prefix.length)] = JSON.parse(value);
      }
    }
    return found;
  };
  const admit = db.transaction((sink: string, changes: readonly MembershipChange[]) => {
    const held = new Set(heldCohorts.all().map(({ cohort }) => cohort));
    let wait =
      get.get(`paused:${sink}`) !== undefined ||
      get.get(`backfill:${sink}`) !== undefined ||
      anyWaiting.get(sink) !== undefined;
    const sendNow: MembershipChange[] = [];
    for (const change of changes) {
      const hold = held.has(change.cohortId) ? change.cohortId : null;
      if (hold === null && !wait) {
        sendNow.push(change);
        continue;
      }
      park.run(sink, hold, JSON.stringify(change));
      if (hold === null) wait = true;
    }
    return sendNow;
  });
  const remove = db.transaction((sink: string, seqs: readonly number[]) => {
    for (const seq of seqs) removeOne.run(sink, seq);
  });
  const endHold = db.transaction((cohortId: string, keep: boolean) => {
    drop.run(`hold:${cohortId}`);
    return (keep ? releaseRows : discardRows).run(cohortId).changes;
  });
  const countExits = db.transaction(
    (cohortId: string, count: { exits: number; membersBefore: number; now: number; windowMs: number }) => {
      const open = read<ExitWindow>(`window:${cohortId}`);
      const window =
        open === undefined || count.now - open.openedAt > count.windowMs
          ? { openedAt: count.now, membersAtOpen: count.membersBefore, exits: 0 }
          : open;
      window.exits += count.exits;
      put.run(`window:${cohortId}`, JSON.stringify(window));
      return window;
    },
  );
  const lease = db.transaction((sink: string, owner: string, ttlMs: number) => {
    const held = read<{ owner: string; until: number }>(`lease:${sink}`);
    const at = now();
    if (held !== undefined && held.owner !== owner && held.until > at) return false;
    put.run(`lease:${sink}`, JSON.stringify({ owner, until: at + ttlMs }));
    return true;
  });

  const unlease = db.transaction((sink: string, owner: string) => {
    if (read<{ owner: string }>(`lease:${sink}`)?.owner === owner) drop.run(`lease:${sink}`);
  });

  return {
    async state() {
      return state();
    },
    async admit(sink, changes) {
      return admit(sink, changes);
    },
    async waiting(sink, limit) {
      return oldest
        .all(sink, limit)
        .map(({ seq, change }) => ({ seq, change: JSON.parse(change) as MembershipChange }));
    },
    async remove(sink, seqs) {
      remove(sink, seqs);
    },
    async backlogs(sinks) {
      return sinks.map((sink) => {
        const { held, total } = counts.get(sink) ?? { held: 0, total: 0 };
        return { sink, waiting: total - held, held };
      });
    },
    async pause(sink, stamp) {
      putNew.run(`paused:${sink}`, JSON.stringify(stamp));
    },
    async resume(sink) {
      drop.run(`paused:${sink}`);
    },
    async setBackfill(sink, backfill) {
      if (backfill === null) drop.run(`backfill:${sink}`);
      else put.run(`backfill:${sink}`, JSON.stringify(backfill));
    },
    async hold(hold) {
      putNew.run(`hold:${hold.cohortId}`, JSON.stringify(hold));
    },
    async release(cohortId) {
      return endHold(cohortId, true);
    },
    async discard(cohortId) {
      return endHold(cohortId, false);
    },
    async countExits(cohortId, count) {
      return countExits(cohortId, count);
    },
    async closeWindow(cohortId) {
      drop.run(`window:${cohortId}`);
    },
    async lease(sink, owner, ttlMs) {
      return lease(sink, owner, ttlMs);
    },
    async unlease(sink, owner) {
      unlease(sink, owner);
    },
  };
}
