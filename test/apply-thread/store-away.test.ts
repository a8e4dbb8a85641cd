/**
 * A store found away on the apply thread reaches the worker as a StoreUnavailableError, so the
 * worker waits for the store instead of spending the batch's attempts; the thread keeps running.
 */
import { expect, it } from 'vitest';
import { createThreadedApplier } from '../../src/apply-thread/threaded-applier.ts';
import { StoreUnavailableError } from '../../src/core/errors.ts';
import { postgresStoreRecipe } from '../../src/postgres/open-store.ts';
import { cohortBatch, queued } from '../support/cohort-batch.ts';

it('rejects with a StoreUnavailableError when the store on the thread is away, and keeps the thread', async () => {
  // Nothing listens on port 1: the Postgres store on the thread finds the server away.
  const threaded = createThreadedApplier(
    postgresStoreRecipe({ connectionString: 'postgres://127.0.0.1:1/test', keyPrefix: 'thread-away' }),
  );
  try {
    for (let call = 0; call < 2; call += 1) {
      const error = await threaded.apply(queued(cohortBatch()), { restate: false }).catch((caught) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(/could not apply a batch: .*ECONNREFUSED/);
    }
    expect(threaded.threadStops).toBe(0);
  } finally {
    await threaded.close();
  }
});
