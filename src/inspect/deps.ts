/** @module What the inspector reads and acts on: the receiver's own ports, passed in by the composition module. */
import type { Logger } from 'pino';
import type { DeadLetters, Letter } from '../core/dead-letters/dead-letters.ts';
import type { Queue } from '../core/queue/queue.ts';
import type { SinkControl } from '../core/sinks/control.ts';
import type { MembershipStore } from '../core/store/store.ts';
import type { ReplayOutcome } from '../runtime/extension.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { DeliveryLog } from './deliveries/delivery-log.ts';
import type { SeriesStore } from './series/series.ts';

export interface InspectorDeps {
  deliveryLog: DeliveryLog;
  /** Per-minute series for the charts, kept beside the delivery log. Absent: no charts. */
  series?: SeriesStore | undefined;
  deadLetters: DeadLetters;
  queue: Pick<Queue, 'stats'>;
  /** Absent in a ROLE=receiver process: the cohort views then say where to look instead. */
  store?: MembershipStore | undefined;
  metrics: Pick<Metrics, 'registry'>;
  logger: Logger;
  /** Replays one letter as `npm run dlq -- replay` does. Absent: replaying is not possible here. */
  replay?: ((letter: Letter) => Promise<ReplayOutcome>) | undefined;
  /** Why replaying cannot work in this configuration, shown instead of the replay buttons. */
  replayBlocked?: string | undefined;
  /**
   * Pause, resume, backfill and the mass-exit guard's holds (the sink-control extra). Read at each
   * use: the extension may attach after the inspector. Absent: the Sinks page says it is not here.
   */
  sinkControl?: SinkControl | undefined;
  /** ADMIN_TOKENS if set, else AUTH_TOKENS. Empty: no login, loopback clients only. */
  tokens: readonly string[];
  /** Proxies whose X-Forwarded-Proto / X-Forwarded-Host are believed (TRUST_PROXY). @default none */
  trustedProxies?: readonly string[];
  /** Where the inspector is mounted, e.g. `/inspect`: links, the cookie's path. */
  basePath: string;
  mode: { queue: string; store: string; role: string };
  /** @default read from package.json */
  version?: string;
  /** @default the time createInspector is called */
  startedAt?: number;
  /** @default 8 hours */
  sessionTtlMs?: number;
  /** Most letters one by-filter replay or drop touches. @default 500 */
  bulkCap?: number;
  /** How often the live tail asks the delivery log for new rows. @default 1000 */
  livePollMs?: number;
  /** The clock, for tests of expiry and of the last-hour window. @default Date.now */
  now?: () => number;
}
