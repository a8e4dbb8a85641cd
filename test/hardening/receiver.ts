/**
 * @module A real receiver for the hardening tests: `startReceiver` listening on 127.0.0.1 in this
 * process, SQLite in a temp dir, its JSON log lines kept, its parts reachable (to drain the queue
 * or wrap the store with an injected fault).
 */
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import {
  type Backends,
  type Config,
  loadConfig,
  openBackends,
  type StartOptions,
  startReceiver,
} from '../../src/compose.ts';
import type { MembershipStore } from '../../src/core/store/store.ts';
import { createTempDir } from '../support/tmp.ts';

export interface TestReceiver {
  url: string;
  port: number;
  parts: Backends;
  sqlitePath: string;
  logLines: Record<string, unknown>[];
  /** Resolves when every accepted batch has been applied (or set aside). */
  settle(timeoutMs?: number): Promise<void>;
  /** Resolves with the first log line (already written or to come) that `match` accepts. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface TestReceiverOptions {
  /**
   * Sees the store `openBackends` built and may return it changed (a slow or failing store). It then
   * applies on the event loop: the apply thread would open a store of its own.
   */
  wrapStore?: (store: MembershipStore) => MembershipStore;
  /** Builds the parts instead, on the test's own SQLite connection to `sqlitePath` (to set pragmas on it). */
  openBackends?: (config: Config, logger: Logger, sqlitePath: string) => Promise<Backends>;
}

/** Starts the receiver with `env` over test defaults (port 0, STORE=sqlite in a fresh temp dir). */
export async function startTestReceiver(
  env: Record<string, string> = {},
  options: TestReceiverOptions = {},
): Promise<TestReceiver> {
  const dir = await createTempDir('hardening');
  const sqlitePath = join(dir.path, 'cohorts.db');
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    STORE: 'sqlite',
    SQLITE_PATH: sqlitePath,
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logLines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: config.LOG_LEVEL },
    { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const { wrapStore, openBackends: buildParts = openBackends } = options;
  let parts: Backends | undefined;
  const startOptions: StartOptions = {
    openBackends: async (partsConfig, partsLogger) => {
      const built = await buildParts(partsConfig, partsLogger, sqlitePath);
      if (wrapStore === undefined && options.openBackends === undefined) {
        parts = built;
      } else {
        const store = built.store && (wrapStore ?? ((same) => same))(built.store);
        parts = { ...built, store, storeRecipe: { ...built.storeRecipe, threadable: false } };
      }
      return parts;
    },
  };
  const receiver = await startReceiver(config, logger, startOptions);
  const url = receiver.url;
  return {
    url,
    port: Number(new URL(url).port),
    // biome-ignore lint/style/noNonNullAssertion: startReceiver called openBackends before resolving.
    parts: parts!,
    sqlitePath,
    logLines,
    async settle(timeoutMs = 20_000) {
      // biome-ignore lint/style/noNonNullAssertion: as above.
      if (!(await parts!.queue.drain(timeoutMs))) throw new Error(`queue did not drain in ${timeoutMs} ms`);
    },
    async waitForLog(match, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logLines.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async stop() {
      await receiver.shutdown();
      await dir.remove();
    },
  };
}

/** Scrapes `/metrics` and returns each sample line's value by its full series text. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A default-shape Amplitude body. */
export function amplitudeBody(
  messageId: string,
  userIds: string[],
  overrides: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    cohort_name: 'Hardening',
    cohort_id: 'hardening',
    in_cohort: true,
    computed_time: '1700000000',
    message_id: messageId,
    users: userIds.map((user_id) => ({ user_id })),
    ...overrides,
  });
}

/** Members of a cohort, all pages, read back through the HTTP read API. */
export async function membersOf(url: string, cohortId: string) {
  const members: { user_id: string; since: number; user_properties: unknown }[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = (await (
      await fetch(`${url}/cohorts/${encodeURIComponent(cohortId)}/members?limit=1000${query}`)
    ).json()) as { members: typeof members; next_cursor: string | null };
    members.push(...page.members);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return members;
}
