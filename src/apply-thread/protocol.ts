/** @module What the event loop and the apply thread say to each other: a call per batch, a reply per call. */
import { StoreUnavailableError } from '../core/errors.ts';
import type { QueuedBatch } from '../core/queue/queue.ts';
import type { BatchEnvelope } from '../core/worker.ts';
import type { ChangeColumns } from './change-columns.ts';

/**
 * Apply a queued batch (its body is parsed on the thread), open the store and answer once it does
 * (a warm-up), or close the store and end the thread.
 */
export type ThreadCall =
  | { id: number; method: 'apply'; batch: QueuedBatch; restate: boolean }
  | { id: number; method: 'warmUp' }
  | { id: number; method: 'close' };

/** What applying did, with the changes as columns (change-columns.ts). */
export interface AppliedColumns {
  batch: BatchEnvelope;
  users: number;
  changes: ChangeColumns;
}

/** An error as plain data: structured cloning keeps only the message of a class it does not know. */
export interface PlainError {
  name: string;
  message: string;
  stack?: string | undefined;
}

export type ThreadReply =
  | { id: number; value: AppliedColumns | undefined }
  | { id: number; error: PlainError };

export function toPlainError(error: unknown): PlainError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/**
 * The error as the worker tells it apart: an UndecodableBodyError keeps its name, a store found away
 * is a StoreUnavailableError again (the worker waits for it rather than spend an attempt).
 */
export function fromPlainError({ name, message, stack }: PlainError): Error {
  const error = name === 'StoreUnavailableError' ? new StoreUnavailableError(message) : new Error(message);
  error.name = name;
  if (stack !== undefined) error.stack = stack;
  return error;
}
