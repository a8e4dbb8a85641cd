/**
 * @module The reference for the sustained apply rate: a bare loop doing the same upserts on the
 * same kind of store — the bench's bodies, parsed untimed, then `store.applyBatch` one after the
 * other with nothing else in the process (no HTTP, no queue, no worker). The receiver's drain
 * rate is reported as a ratio of this.
 *
 * Run as a script with the receiver's environment (STORE, SQLITE_PATH, …) and one JSON argument
 * `{generator, batches, maxSeconds}`; prints one JSON line `{users, batches, seconds, usersPerSecond}`.
 */
import { pathToFileURL } from 'node:url';
import { createBackends } from '../src/compose.ts';
import { loadConfig } from '../src/config.ts';
import { createBatchParser } from '../src/payload/parse-batch.ts';
import type { MembershipStore } from '../src/store/store.ts';
import { createPayloadGenerator, type GeneratorOptions } from './payload-generator.ts';

export interface BareApplyPlan {
  generator: GeneratorOptions;
  /** Fresh (non-duplicate) batches to apply: as many as the receiver was sent. */
  batches: number;
  /** Stop early once this much apply time has been spent. */
  maxSeconds: number;
}

export interface BareApplyResult {
  users: number;
  batches: number;
  /** Time spent inside applyBatch only. */
  seconds: number;
  usersPerSecond: number;
}

export async function runBareApply(store: MembershipStore, plan: BareApplyPlan): Promise<BareApplyResult> {
  const generator = createPayloadGenerator(plan.generator);
  const parse = createBatchParser();
  let users = 0;
  let batches = 0;
  let milliseconds = 0;
  while (batches < plan.batches && milliseconds < plan.maxSeconds * 1000) {
    const generated = generator.next();
    if (generated.duplicate) continue;
    const text = generated.body.toString('utf8');
    const batch = parse(JSON.parse(text), text, Date.now());
    const started = performance.now();
    await store.applyBatch(batch);
    milliseconds += performance.now() - started;
    users += batch.users.length;
    batches += 1;
  }
  const seconds = milliseconds / 1000;
  return { users, batches, seconds, usersPerSecond: seconds > 0 ? users / seconds : 0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as BareApplyPlan;
  const parts = await createBackends(loadConfig(process.env));
  try {
    console.log(JSON.stringify(await runBareApply(parts.store, plan)));
  } finally {
    await parts.close();
  }
}
