/** @module What the event loop and the apply thread say to each other: a call per store method, a reply per call. */
import type { MembershipStore } from '../core/store/store.ts';

/** The store methods that cross the thread boundary; `close` also ends the thread. */
export type StoreMethod = 'applyBatch' | 'listCohorts' | 'listMembers' | 'userCohorts' | 'check' | 'close';

export interface StoreCall {
  id: number;
  method: StoreMethod;
  args: unknown[];
}

/** An error as plain data: structured cloning keeps only the message of a class it does not know. */
export interface PlainError {
  name: string;
  message: string;
  stack?: string | undefined;
}

export type StoreReply = { id: number; value: unknown } | { id: number; error: PlainError };

export function toPlainError(error: unknown): PlainError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** JavaScript's own error classes, rebuilt as themselves: callers tell a RangeError (a bad page limit) apart. */
const builtInErrors: Record<string, ErrorConstructor> = {
  RangeError,
  TypeError,
  SyntaxError,
  ReferenceError,
};

export function fromPlainError({ name, message, stack }: PlainError): Error {
  const error = new (builtInErrors[name] ?? Error)(message);
  error.name = name;
  if (stack !== undefined) error.stack = stack;
  return error;
}

/** Calls `method` on `store` with `args` (from a StoreCall): the thread's dispatch, typed once here. */
export function invoke(store: MembershipStore, method: Exclude<StoreMethod, 'close'>, args: unknown[]) {
  const call = store[method] as (...callArgs: unknown[]) => Promise<unknown>;
  return call.apply(store, args);
}
