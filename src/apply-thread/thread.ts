/**
 * @module The apply thread's entry: opens its own store from the recipe (its own SQLite connection,
 * Redis or Postgres client), parses each queued body and applies it. Calls run as they arrive, so
 * the SQLite store's group commit groups them as it would on one thread.
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createQueuedBodyDecoder } from '../core/payload/decode-body.ts';
import { storeApplier } from '../core/worker.ts';
import type { StoreRecipe } from '../runtime/extension.ts';
import { openRecipe } from '../runtime/open-recipe.ts';
import { toColumns } from './change-columns.ts';
import { type ThreadCall, type ThreadReply, toPlainError } from './protocol.ts';

/** Opens the store `recipe` describes and answers calls on `port` until a `close` call. */
function serveStore(port: MessagePort, recipe: StoreRecipe) {
  // Rejects (each call waiting fails with it) when the store cannot be opened.
  const opened = openRecipe(recipe);
  const apply = opened.then(({ store }) =>
    storeApplier(store, createQueuedBodyDecoder(), { eachTurn: false }),
  );
  const run = async (call: ThreadCall) => {
    if (call.method === 'close') return (await opened).close().then(() => undefined);
    if (call.method === 'warmUp') return (await opened).store.check().then(() => undefined);
    const applied = await (await apply)(call.batch, { restate: call.restate });
    return { batch: applied.batch, users: applied.users, changes: toColumns(applied.changes) };
  };
  port.on('message', async (call: ThreadCall) => {
    if (
      !(await opened.then(
        () => true,
        () => false,
      ))
    )
      return;
    let reply: ThreadReply;
    try {
      reply = { id: call.id, value: await run(call) };
    } catch (error) {
      reply = { id: call.id, error: toPlainError(error) };
    }
    port.postMessage(reply);
    if (call.method === 'close') port.close();
  });
}

// Imported anywhere else (a test importing every module), it does nothing.
if (!isMainThread && parentPort) serveStore(parentPort, workerData as StoreRecipe);
