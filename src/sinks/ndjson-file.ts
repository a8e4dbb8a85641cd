/**
 * @module A sink that is not HTTP (docs/sinks.md): appends each change as one JSON line to a file,
 * for another program to tail or load. The smallest complete sink of its own: settings with a
 * required one, `send` that resolves only once the lines are on disk, and an error that says when
 * a retry cannot help. Try it: `SINKS=ndjson-file SINK_NDJSON_FILE_PATH=./data/changes.ndjson`.
 */
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { type Sink, SinkError } from '../core/sinks/sink.ts';
import type { MembershipChange } from '../core/store/store.ts';
import { integer } from '../runtime/settings.ts';
import { defineSink } from '../runtime/sink-definition.ts';
import { toWireChange } from './http.ts';

export const ndjsonFileSink = defineSink({
  // SINKS=ndjson-file; its variables start with SINK_NDJSON_FILE_.
  kind: 'ndjson-file',
  settings: z.object({
    // No default, so required: unset, start-up stops with
    // `invalid configuration: SINK_NDJSON_FILE_PATH: required: the file it appends a line per change to`.
    PATH: z.string().min(1, 'must name a file').describe('the file it appends a line per change to'),
    BATCH_SIZE: integer(500, 1, 100_000),
  }),
  create: (settings, { name }) =>
    createNdjsonFileSink({ name, path: settings.PATH, batchSize: settings.BATCH_SIZE }),
});

export function createNdjsonFileSink(options: { name: string; path: string; batchSize: number }): Sink {
  const { name, path, batchSize } = options;
  return {
    name,
    batchSize,
    // One lane (the default): calls never overlap, so lines from two calls never interleave.
    async send(changes) {
      await appendDurably(path, changes.map(toLine).join(''));
    },
  };
}

/** One change as a line: the `http` sink's entry (idempotency key, state to set, version). */
export function toLine(change: MembershipChange): string {
  return `${JSON.stringify(toWireChange(change))}\n`;
}

/**
 * Resolves once the lines are on disk, not just in the page cache: a batch leaves the queue when
 * `send` resolves, so a power cut after that must not lose them.
 */
async function appendDurably(path: string, text: string): Promise<void> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, 'a');
  } catch (error) {
    // A folder in its place stays one: dead-letter at once. Anything else (a folder not yet
    // mounted, a full disk) may pass, and is retried with backoff.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new SinkError(`${path} is a directory`, { retryable: false, cause: error });
    throw error;
  }
  try {
    await file.appendFile(text);
    await file.datasync();
  } finally {
    await file.close();
  }
}
