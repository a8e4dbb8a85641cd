/**
 * @module The reference for the sustained apply rate: a bare loop doing the same upserts on the
 * same kind of store — the bench's bodies, parsed untimed, then `store.applyBatch` with nothing
 * else in the process (no HTTP, no queue, no worker, no apply thread). The receiver's drain rate is
 * reported as a ratio of this.
 *
 * `inFlight` batches are applied at once, as the worker hands them to the store: the SQLite store
 * groups them into one commit, and one at a time it would wait its group-commit window per batch.
 *
 * Run as a script with the receiver's environment (STORE, SQLITE_PATH, …) and one JSON argument
 * `{generator, batches, maxSeconds}`; prints one JSON line `{users, batches, seconds, usersPerSecond}`.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loadConfig, openBackends } from '../src/compose.ts';
import type { CohortBatch } from '../src/core/batch.ts';
import { createBatchParser } from '../src/core/payload/parse-batch.ts';
import type { MembershipStore } from '../src/core/store/store.ts';
import { createPayloadGenerator, type GeneratorOptions } from './payload-generator.ts';

export interface BareApplyPlan {
  generator: GeneratorOptions;
  /** Fresh (non-duplicate) batches to apply: as many as the receiver was sent. */
  batches: number;
  /** Stop early once this much apply time has been spent. */
  maxSeconds: number;
  /** Batches handed to `applyBatch` before the first resolves. @default 1 */
  inFlight?: number;
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
  const inFlight = Math.max(1, plan.inFlight ?? 1);
  while (batches < plan.batches && milliseconds < plan.maxSeconds * 1000) {
    const window: CohortBatch[] = [];
    while (window.length < inFlight && batches + window.length < plan.batches) {
      const generated = generator.next();
      if (generated.duplicate) continue;
      const text = generated.body.toString('utf8');
      window.push(parse(JSON.parse(text), text, Date.now()));
    }
    const started = performance.now();
    await Promise.all(window.map((batch) => store.applyBatch(batch)));
    milliseconds += performance.now() - started;
    for (const batch of window) users += batch.users.length;
    batches += window.length;
  }
  const seconds = milliseconds / 1000;
  return { users, batches, seconds, usersPerSecond: seconds > 0 ? users / seconds : 0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as BareApplyPlan;
  const parts = await openBackends(loadConfig(process.env), pino({ level: 'warn' }));
  try {
    if (parts.store === undefined) throw new Error('ROLE=receiver opens no store');
    console.log(JSON.stringify(await runBareApply(parts.store, plan)));
  } finally {
    await parts.close();
  }
}
