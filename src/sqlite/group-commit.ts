/**
 * @module Group commit for the SQLite store: batches handed to `applyBatch` within a few milliseconds
 * of each other are applied in one transaction, each in its own savepoint. A commit writes every page
 * it dirtied once, and batches of random user ids share the B-tree's upper pages and the commit's
 * own cost, so fewer, larger commits write fewer pages per user (docs/performance.md).
 *
 * What a commit promises is unchanged: each batch's promise settles only after the transaction
 * holding it committed, so a queue that lets a batch go once its apply resolved never lets go of an
 * uncommitted one. A batch that fails rolls back its own savepoint and rejects alone; a commit that
 * fails rejects every batch of the group (each is retried, and applying a batch again is a no-op).
 */
import type Database from 'better-sqlite3';
import type { CohortBatch } from '../core/batch.ts';
import type { ApplyOptions, MembershipChange } from '../core/store/store.ts';

export interface GroupCommitOptions {
  /**
   * Applies a whole group at once inside the transaction, returning each batch's changes. If it
   * throws, the group is applied again batch by batch, each in its own savepoint, so that a batch
   * that fails fails alone.
   */
  applyAll?: (group: GroupEntry[]) => MembershipChange[][];
  /** Hears why `applyAll` threw. */
  onSplit?: (error: unknown) => void;
  /** A group commits at once when it reaches this many users; 1 commits every batch alone. */
  maxUsers: number;
  /**
   * Otherwise it commits this long after its first batch arrived. While the event loop is free,
   * webhooks are answered and their batches join: with Amplitude's 4 requests in flight, a group
   * that committed at the end of the turn would hold the 4 batches that came during the last commit.
   */
  maxWaitMs: number;
}

export interface GroupCommitter {
  apply(batch: CohortBatch, options?: ApplyOptions): Promise<MembershipChange[]>;
  /** Commits what is waiting now (before the file closes). */
  flush(): void;
}

export interface GroupEntry {
  batch: CohortBatch;
  options: ApplyOptions | undefined;
}

interface Waiting extends GroupEntry {
  resolve(changes: MembershipChange[]): void;
  reject(error: unknown): void;
}

type Outcome = { changes: MembershipChange[] } | { error: unknown };

/**
 * Groups calls to `applyOne` (a synchronous apply that is a savepoint inside a transaction). A group
 * is bounded in users by `maxUsers` and in time by `maxWaitMs` from its first batch.
 */
export function createGroupCommitter(
  db: Database.Database,
  applyOne: (batch: CohortBatch, options?: ApplyOptions) => MembershipChange[],
  options: GroupCommitOptions,
): GroupCommitter {
  let waiting: Waiting[] = [];
  let waitingUsers = 0;
  let timer: NodeJS.Timeout | undefined;

  const { applyAll } = options;
  const applyWhole = applyAll && db.transaction((group: Waiting[]) => applyAll(group));
  const applyGroup = db.transaction((group: Waiting[]): Outcome[] =>
    group.map(({ batch, options: applyOptions }) => {
      try {
        return { changes: applyOne(batch, applyOptions) };
      } catch (error) {
        return { error };
      }
    }),
  );

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const group = waiting;
    waiting = [];
    waitingUsers = 0;
    if (applyWhole && group.length > 1) {
      let changes: MembershipChange[][] | undefined;
      try {
        changes = applyWhole.immediate(group);
      } catch (error) {
        // Rolled back: batch by batch below finds the one that fails.
        options.onSplit?.(error);
      }
      if (changes) {
        for (const [index, entry] of group.entries()) entry.resolve(changes[index] ?? []);
        return;
      }
    }
    let outcomes: Outcome[];
    try {
      // IMMEDIATE, as a single apply is: take the write lock before reading (store.ts).
      outcomes = applyGroup.immediate(group);
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    outcomes.forEach((outcome, index) => {
      // biome-ignore lint/style/noNonNullAssertion: one outcome per entry of the group.
      const entry = group[index]!;
      if ('changes' in outcome) entry.resolve(outcome.changes);
      else entry.reject(outcome.error);
    });
  };

  return {
    apply(batch, applyOptions) {
      return new Promise<MembershipChange[]>((resolve, reject) => {
        waiting.push({ batch, options: applyOptions, resolve, reject });
        waitingUsers += batch.users.length;
        if (waitingUsers >= options.maxUsers) flush();
        else timer ??= setTimeout(flush, options.maxWaitMs);
      });
    },
    flush,
  };
}
