/**
 * @module `npm run dlq -- list|show|replay|drop`: the dead letters and the quarantine, in every queue
 * mode (the letters live where the queue does: Redis for QUEUE=redis, else the SQLite file).
 * Pure of the environment: the entry file (`dlq.ts`) gives it the backends and a place to print.
 */
import { writeFile } from 'node:fs/promises';
import {
  keptBodySize,
  type Letter,
  type LetterKind,
  letterBytes,
  letterKinds,
} from '../core/dead-letters/dead-letters.ts';
import { type ReplayDeps, replayed, replayLetter } from '../replay/replay-letter.ts';
import type { ReplayOutcome } from '../runtime/extension.ts';
import type { Backends } from '../runtime/receiver.ts';

export const dlqUsage = `Usage: npm run dlq -- <command> [id] [options]

Commands
  list [--kind K] [--limit N]     letters, newest first (default limit 50)
  show <id>                       one letter, with its whole body (base64 when it is not UTF-8)
  download <id> [--out FILE]      the body's exact bytes (of a cut one, those kept), to FILE or stdout
  replay <id> | --all [--kind K]  replay and drop it (kept if it cannot be replayed):
                                    failed   -> back to the workers (QUEUE=memory: applied to the store)
                                    rejected -> parsed again and accepted if it now passes
                                    sink     -> its users' current state sent to the sink again
  drop <id> | --all [--kind K]    delete it
  help, -h, --help                this text
Kinds: rejected (quarantined 400/422 bodies), failed (batches never applied), sink (changes a sink refused)`;

/** `--help`, `-h` or the `help` command: the usage, and nothing opened. */
export function asksForHelp(argv: readonly string[]): boolean {
  return argv[0] === 'help' || argv.includes('--help') || argv.includes('-h');
}

export interface DlqDeps extends Omit<ReplayDeps, 'queue' | 'store'> {
  backends: Pick<Backends, 'queue' | 'store' | 'deadLetters'>;
  /** Why replaying cannot work in this configuration (QUEUE=memory with STORE=memory), if it cannot. */
  replayBlocked?: string | undefined;
  print: (line: string) => void;
  /** Where `download` without --out writes the bytes: standard output, unchanged. */
  writeBytes?: (bytes: Buffer) => void;
}

interface Arguments {
  command: string | undefined;
  id: string | undefined;
  kind: LetterKind | undefined;
  all: boolean;
  limit: number;
  out: string | undefined;
}

/** Runs one command; resolves with the process exit code (0 ok, 1 failed, 2 usage). */
export async function runDlq(argv: string[], deps: DlqDeps): Promise<number> {
  let args: Arguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    deps.print(`${(error as Error).message}\n\n${dlqUsage}`);
    return 2;
  }
  const { deadLetters } = deps.backends;
  switch (args.command) {
    case 'list': {
      const letters = await deadLetters.list({
        ...(args.kind ? { kind: args.kind } : {}),
        limit: args.limit,
      });
      if (letters.length === 0) deps.print('no letters');
      for (const letter of letters) deps.print(summary(letter));
      return 0;
    }
    case 'show': {
      const letter = args.id === undefined ? undefined : await deadLetters.get(args.id);
      if (letter === undefined) return notFound(args.id, deps);
      deps.print(JSON.stringify(letter, null, 2));
      return 0;
    }
    case 'download': {
      const letter = args.id === undefined ? undefined : await deadLetters.get(args.id);
      if (letter === undefined) return notFound(args.id, deps);
      const bytes = letterBytes(letter);
      if (args.out !== undefined) {
        await writeFile(args.out, bytes);
        deps.print(
          `${bytes.length} bytes written to ${args.out}${letter.truncated ? ` (${keptBodySize(letter)}: the rest was not kept)` : ''}`,
        );
      } else if (deps.writeBytes) deps.writeBytes(bytes);
      else {
        deps.print('pass --out FILE');
        return 2;
      }
      return 0;
    }
    case 'replay': {
      if (deps.replayBlocked) {
        deps.print(`cannot replay: ${deps.replayBlocked}`);
        return 1;
      }
      const letters = await chosen(args, deps);
      if (letters === undefined) return notFound(args.id, deps);
      let failed = 0;
      for (const letter of letters) {
        let outcome: ReplayOutcome;
        try {
          outcome = await replayLetter(letter, {
            ...deps,
            queue: deps.backends.queue,
            store: deps.backends.store,
          });
        } catch (error) {
          outcome = { status: 'not_replayable', detail: (error as Error).message };
        }
        if (replayed(outcome)) await deadLetters.drop(letter.id);
        else failed += 1;
        deps.print(`${letter.id}  ${describe(outcome)}`);
      }
      return failed === 0 ? 0 : 1;
    }
    case 'drop': {
      const letters = await chosen(args, deps);
      if (letters === undefined) return notFound(args.id, deps);
      for (const letter of letters) {
        await deadLetters.drop(letter.id);
        deps.print(`${letter.id}  dropped`);
      }
      return 0;
    }
    default:
      deps.print(dlqUsage);
      return args.command === undefined || args.command === 'help' ? 0 : 2;
  }
}

/** The one letter named, or with --all every letter (of --kind); undefined when the id is unknown. */
async function chosen(args: Arguments, deps: DlqDeps): Promise<Letter[] | undefined> {
  if (args.all) {
    return deps.backends.deadLetters.list({
      ...(args.kind ? { kind: args.kind } : {}),
      limit: Number.MAX_SAFE_INTEGER,
    });
  }
  const letter = args.id === undefined ? undefined : await deps.backends.deadLetters.get(args.id);
  return letter && [letter];
}

function notFound(id: string | undefined, deps: DlqDeps) {
  deps.print(id === undefined ? 'name a letter id (see `list`), or pass --all' : `no letter with id ${id}`);
  return 1;
}

function parseArguments(argv: string[]): Arguments {
  const args: Arguments = {
    command: undefined,
    id: undefined,
    kind: undefined,
    all: false,
    limit: 50,
    out: undefined,
  };
  for (let index = 0; index < argv.length; index += 1) {
    const value = argv[index] as string;
    if (value === '--help' || value === '-h') args.command = 'help';
    else if (value === '--all') args.all = true;
    else if (value === '--kind') {
      const kind = argv[++index];
      if (!letterKinds.includes(kind as LetterKind)) {
        throw new Error(`Expected --kind to be one of ${letterKinds.join(', ')}, got \`${kind}\``);
      }
      args.kind = kind as LetterKind;
    } else if (value === '--limit') {
      args.limit = Number(argv[++index]);
      if (!Number.isInteger(args.limit) || args.limit < 1) {
        throw new Error(`Expected --limit to be a positive integer, got \`${argv[index]}\``);
      }
    } else if (value === '--out') {
      args.out = argv[++index];
      if (!args.out) throw new Error('Expected --out to name a file');
    } else if (value.startsWith('--')) throw new Error(`unknown option ${value}`);
    else if (args.command === undefined) args.command = value;
    else if (args.id === undefined) args.id = value;
    else throw new Error(`unexpected argument ${value}`);
  }
  if (args.all && args.id !== undefined) throw new Error('pass an id or --all, not both');
  return args;
}

function summary(letter: Letter): string {
  const reason = letter.reason.length > 100 ? `${letter.reason.slice(0, 99)}…` : letter.reason;
  const encoding = letter.encoding === 'base64' ? ', not UTF-8' : '';
  const size = `${letter.truncated ? keptBodySize(letter) : `${letterBytes(letter).length} B`}${encoding}`;
  const created = new Date(letter.createdAt).toISOString();
  return [letter.id, letter.kind, created, letter.messageId ?? '-', size, reason].join('  ');
}

function describe(outcome: ReplayOutcome): string {
  switch (outcome.status) {
    case 'requeued':
      return 'requeued for the workers; dropped';
    case 'applied':
      return `applied to the store (${outcome.changes} changes); dropped`;
    case 'accepted':
    case 'duplicate':
      return `${outcome.status} as ${outcome.messageId}; dropped`;
    case 'resent':
      return `${outcome.changes} changes sent to ${outcome.sink}; dropped`;
    default:
      return `${outcome.status}: ${outcome.detail}; kept`;
  }
}
