/**
 * @module Sink control in this process's memory: for a receiver built without the SQLite extra,
 * and for tests. Pauses, holds and waiting changes end with the process.
 */
import type { MembershipChange } from '../core/store/store.ts';
import type {
  Backfill,
  ControlState,
  ControlStore,
  ExitWindow,
  Hold,
  Stamp,
  WaitingChange,
} from './control-store.ts';

interface Row {
  seq: number;
  change: MembershipChange;
  /** The held cohort, or undefined once it may go. */
  hold: string | undefined;
}

/** A sink's changes: those that may go, in seq order, and those held. */
interface Rows {
  waiting: Row[];
  held: Row[];
}

export function createMemoryControl(now: () => number = Date.now): ControlStore {
  const paused = new Map<string, Stamp>();
  const holds = new Map<string, Hold>();
  const backfills = new Map<string, Backfill>();
  const windows = new Map<string, ExitWindow>();
  const rows = new Map<string, Rows>();
  const leases = new Map<string, { owner: string; until: number }>();
  let seq = 0;
  const rowsOf = (sink: string) => {
    const list = rows.get(sink) ?? { waiting: [], held: [] };
    rows.set(sink, list);
    return list;
  };
  const snapshot = (): ControlState =>
    structuredClone({
      paused: Object.fromEntries(paused),
      holds: Object.fromEntries(holds),
      backfills: Object.fromEntries(backfills),
    });
  const endHold = (cohortId: string, keep: boolean) => {
    holds.delete(cohortId);
    let count = 0;
    for (const list of rows.values()) {
      const ended = list.held.filter((row) => row.hold === cohortId);
      if (ended.length === 0) continue;
      count += ended.length;
      list.held = list.held.filter((row) => row.hold !== cohortId);
      if (keep) {
        const released = ended.map((row) => ({ ...row, hold: undefined }));
        list.waiting = [...list.waiting, ...released].sort((a, b) => a.seq - b.seq);
      }
    }
    return count;
  };

  return {
    async state() {
      return snapshot();
    },
    async admit(sink, changes) {
      const list = rowsOf(sink);
      const wait = paused.has(sink) || backfills.has(sink) || list.waiting.length > 0;
      const now: MembershipChange[] = [];
      for (const change of changes) {
        const hold = holds.has(change.cohortId) ? change.cohortId : undefined;
        if (hold === undefined && !wait) {
          now.push(change);
          continue;
        }
        seq += 1;
        (hold === undefined ? list.waiting : list.held).push({ seq, change: structuredClone(change), hold });
      }
      return now;
    },
    async waiting(sink, limit) {
      return rowsOf(sink)
        .waiting.slice(0, limit)
        .map((row): WaitingChange => ({ seq: row.seq, change: structuredClone(row.change) }));
    },
    async remove(sink, seqs) {
      const gone = new Set(seqs);
      const list = rowsOf(sink);
      // Drains remove from the head: cut it, and filter only what is left over.
      let head = 0;
      while (head < list.waiting.length && gone.has((list.waiting[head] as Row).seq)) head += 1;
      list.waiting = list.waiting.slice(head);
      if (gone.size > head) list.waiting = list.waiting.filter((row) => !gone.has(row.seq));
    },
    async backlogs(sinks) {
      return sinks.map((sink) => {
        const list = rowsOf(sink);
        return { sink, waiting: list.waiting.length, held: list.held.length };
      });
    },
    async pause(sink, stamp) {
      if (!paused.has(sink)) paused.set(sink, stamp);
    },
    async resume(sink) {
      paused.delete(sink);
    },
    async setBackfill(sink, backfill) {
      if (backfill === null) backfills.delete(sink);
      else backfills.set(sink, structuredClone(backfill));
    },
    async hold(hold) {
      if (!holds.has(hold.cohortId)) holds.set(hold.cohortId, structuredClone(hold));
    },
    async release(cohortId) {
      return endHold(cohortId, true);
    },
    async discard(cohortId) {
      return endHold(cohortId, false);
    },
    async countExits(cohortId, { exits, membersBefore, now: at, windowMs }) {
      const open = windows.get(cohortId);
      const window =
        open === undefined || at - open.openedAt > windowMs
          ? { openedAt: at, membersAtOpen: membersBefore, exits: 0 }
          : open;
      window.exits += exits;
      windows.set(cohortId, window);
      return { ...window };
    },
    async closeWindow(cohortId) {
      windows.delete(cohortId);
    },
    async lease(sink, owner, ttlMs) {
      const held = leases.get(sink);
      const at = now();
      if (held !== undefined && held.owner !== owner && held.until > at) return false;
      leases.set(sink, { owner, until: at + ttlMs });
      return true;
    },
    async unlease(sink, owner) {
      if (leases.get(sink)?.owner === owner) leases.delete(sink);
    },
  };
}
