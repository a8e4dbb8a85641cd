/**
 * @module The apply thread's entry: owns a store (its own SQLite connection, Redis or Postgres
 * client, or the memory store itself) and answers the event loop's calls (threaded-store.ts).
 * Calls run as they arrive, so the SQLite store's group commit groups them as it would in one thread.
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { CohortBatch } from '../core/batch.ts';
import type { ApplyOptions } from '../core/store/store.ts';
import { createBodyDecoder } from '../runtime/stored-batch.ts';
import { toColumns } from './change-columns.ts';
import { openStore, type StoreSpec } from './open-store.ts';
import { invoke, type StoreCall, type StoreReply, toPlainError } from './protocol.ts';

/** Opens the store `spec` describes and answers calls on `port` until a `close` call. */
function serveStore(port: MessagePort, spec: StoreSpec) {
  // Throws (the thread's 'error' event: the calls waiting fail with it) when the store cannot be opened.
  const opened = openStore(spec);
  const decodeBody = createBodyDecoder();
  const applyBatch = async (batch: CohortBatch | null, options: ApplyOptions | undefined) => {
    // The queue's text, parsed here with the queue's own decoder, rather than a clone of the batch.
    const source = options?.source;
    const applied = batch ?? (source && decodeBody(source.rawBody, source.receivedAtMs));
    if (!applied) throw new Error('applyBatch needs a batch or its source');
    return toColumns(await opened.store.applyBatch(applied, { restate: options?.restate ?? false }));
  };
  const run = (method: StoreCall['method'], args: unknown[]) => {
    if (method === 'close') return opened.close();
    if (method === 'applyBatch') return applyBatch(args[0] as CohortBatch | null, args[1] as ApplyOptions);
    return invoke(opened.store, method, args);
  };
  port.on('message', async ({ id, method, args }: StoreCall) => {
    let reply: StoreReply;
    try {
      reply = { id, value: await run(method, args) };
    } catch (error) {
      reply = { id, error: toPlainError(error) };
    }
    port.postMessage(reply);
    if (method === 'close') port.close();
  });
}

// Imported anywhere else (a test importing every module), it does nothing.
if (!isMainThread && parentPort) serveStore(parentPort, workerData as StoreSpec);
