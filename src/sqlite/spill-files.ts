/**
 * @module Where a shutdown of QUEUE=memory keeps the batches it could not write to the inbox's file
 * (a full disk, a failing one): plain files, one JSON line per batch, beside the inbox or, when that
 * disk refuses too, in the OS temp dir. The next start on the same inbox takes them up into the
 * spill table and deletes them. Their names derive from the inbox's path, so a process on another
 * inbox never takes them.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { WaitingBatch } from '../core/queue/hand-over.ts';

/** What a spill file kept, for a person and a log line. */
export interface KeptInFile {
  path: string;
  batches: number;
  users: number;
}

/** The batches not written anywhere, and the files that kept the others. */
export interface FileSpillOutcome {
  kept: KeptInFile[];
  lost: { batches: number; users: number };
}

interface SpillLine {
  message_id: string;
  users: number;
  accepted_at: number;
  received_at: number;
  body: string;
}

/** The places tried in order, each with the prefix every spill file of this inbox starts with. */
function spillPlaces(inboxPath: string): { directory: string; prefix: string }[] {
  const absolute = resolve(inboxPath);
  const digest = createHash('sha256').update(absolute).digest('hex').slice(0, 16);
  return [
    { directory: dirname(absolute), prefix: `${basename(absolute)}.spill-` },
    { directory: tmpdir(), prefix: `cohort-receiver-spill-${digest}-` },
  ];
}

/**
 * Writes `batches` to spill files, one line each, synced: beside the inbox first, then in the OS
 * temp dir for the batches the first refused. Never throws: what no place took is counted as lost.
 */
export function writeSpillFiles(inboxPath: string, batches: readonly WaitingBatch[]): FileSpillOutcome {
  const kept: KeptInFile[] = [];
  let next = 0;
  for (const { directory, prefix } of spillPlaces(inboxPath)) {
    if (next === batches.length) break;
    const path = join(directory, `${prefix}${Date.now()}-${process.pid}.ndjson`);
    const written = appendLines(path, batches.slice(next));
    if (written.batches > 0) kept.push({ path, ...written });
    next += written.batches;
  }
  const rest = batches.slice(next);
  return { kept, lost: { batches: rest.length, users: sumUsers(rest) } };
}

/** Appends a line per batch until a write fails; counts only lines written whole and synced. */
function appendLines(path: string, batches: readonly WaitingBatch[]): { batches: number; users: number } {
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch {
    return { batches: 0, users: 0 };
  }
  let written = 0;
  try {
    for (const batch of batches) {
      const line: SpillLine = {
        message_id: batch.messageId,
        users: batch.users,
        accepted_at: batch.acceptedAt,
        received_at: batch.receivedAt,
        body: batch.body,
      };
      const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
      // A short write (the disk filled mid-line) leaves a partial last line, which the take-up skips.
      if (writeSync(fd, bytes) < bytes.length) break;
      written += 1;
    }
    fsyncSync(fd);
  } catch {
    // ENOSPC or EIO: the lines before it are kept if the sync went through; if not, none count.
    try {
      fsyncSync(fd);
    } catch {
      written = 0;
    }
  } finally {
    closeSync(fd);
  }
  if (written === 0) removeQuietly(path);
  return { batches: written, users: sumUsers(batches.slice(0, written)) };
}

/** A batch read back from a spill file. */
export type SpilledBatch = Omit<WaitingBatch, 'handedOver'>;

/**
 * Reads every spill file of this inbox and hands its batches to `keep` (which writes them where the
 * queue takes them up, in one transaction); deletes each file once `keep` returned. A file `keep`
 * throws on stays, for the next start. Returns what was taken up and what stays.
 */
export function takeUpSpillFiles(
  inboxPath: string,
  keep: (batches: SpilledBatch[]) => void,
): { taken: KeptInFile[]; left: { path: string; error: string }[] } {
  const taken: KeptInFile[] = [];
  const left: { path: string; error: string }[] = [];
  for (const { directory, prefix } of spillPlaces(inboxPath)) {
    let names: string[];
    try {
      names = readdirSync(directory).filter((name) => name.startsWith(prefix) && name.endsWith('.ndjson'));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const path = join(directory, name);
      try {
        const batches = readLines(readFileSync(path, 'utf8'));
        keep(batches);
        unlinkSync(path);
        taken.push({ path, batches: batches.length, users: sumUsers(batches) });
      } catch (error) {
        left.push({ path, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return { taken, left };
}

function readLines(text: string): SpilledBatch[] {
  const batches: SpilledBatch[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let parsed: SpillLine;
    try {
      parsed = JSON.parse(line) as SpillLine;
    } catch {
      continue; // the partial last line of a write the disk cut short: never counted as kept
    }
    batches.push({
      messageId: parsed.message_id,
      users: parsed.users,
      acceptedAt: parsed.accepted_at,
      receivedAt: parsed.received_at,
      body: parsed.body,
    });
  }
  return batches;
}

export function sumUsers(batches: readonly { users: number }[]): number {
  return batches.reduce((sum, batch) => sum + batch.users, 0);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
