/**
 * @module loadConfig(env): the one place configuration is parsed and checked, the sinks' own
 * settings included (docs/operations.md, docs/sinks.md).
 */
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';
import { defaultPayloadLimits } from '../core/payload/limits.ts';
import { defaultSinkMaxAttempts } from '../core/sinks/retry.ts';
import { defaultApplyMaxAttempts } from '../core/worker.ts';
import { proxyEntryProblem } from '../inspect/client.ts';
import { defaultMaxDeliveries } from '../inspect/deliveries/delivery-log.ts';
import { defaultClaimIdleMs } from '../redis/queue.ts';
import { sinkDefinitions } from '../sinks/registry.ts';
import { isLoopback } from './loopback.ts';
import { integer, readSinkSetups, type SinkSetup } from './sink-settings.ts';

/** Comma-separated list; blanks dropped, so `AUTH_TOKENS="a, b,"` means ["a", "b"]. */
const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const configSchema = z.object({
  PORT: integer(8080, 0, 65535),
  // Unset: loopback without AUTH_TOKENS, every interface with them (defaultHost).
  HOST: z.string().min(1).optional(),
  WEBHOOK_PATH: z.string().startsWith('/', 'must start with "/"').default('/webhook'),
  AUTH_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .default('authorization')
    .transform((name) => name.toLowerCase()),
  // `none` turns auth off on purpose: the only way to run without tokens on a non-loopback HOST.
  AUTH_TOKENS: list.transform((tokens) => (tokens.join() === 'none' ? [] : tokens)),
  QUEUE: z.enum(['memory', 'sqlite', 'redis']).default('memory'),
  STORE: z.enum(['sqlite', 'memory', 'redis', 'postgres']).default('sqlite'),
  SQLITE_PATH: z.string().min(1).default('./data/cohorts.db'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'must be lowercase letters, digits, "_" or "-", starting with a letter')
    .default('cohort-receiver'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://127.0.0.1:5432/postgres'),
  ROLE: z.enum(['all', 'receiver', 'worker']).default('all'),
  DEDUPE_TTL_SECONDS: integer(604_800, 1),
  QUEUE_MAX_USERS: integer(5_000_000, 1),
  // QUEUE=redis: how long a batch may sit unacknowledged with a worker before another claims it.
  REDIS_CLAIM_IDLE_MS: integer(defaultClaimIdleMs, 100),
  MAX_BODY_BYTES: integer(33_554_432, 1),
  MAX_USERS_PER_BATCH: integer(defaultPayloadLimits.maxUsers, 1),
  MAX_USER_ID_LENGTH: integer(defaultPayloadLimits.maxUserIdLength, 1),
  MAX_PROPERTIES_PER_USER: integer(defaultPayloadLimits.maxProperties, 0),
  // Deeper values would overflow the stack when the store serialises them (JSON.stringify recurses).
  MAX_PROPERTY_DEPTH: integer(defaultPayloadLimits.maxPropertyDepth, 1, 1000),
  // Slow clients (docs/security.md): Node's own defaults (60 s for headers, 300 s for a request)
  // let a slow-loris client hold a connection for minutes.
  HEADERS_TIMEOUT_MS: integer(10_000, 1),
  REQUEST_TIMEOUT_MS: integer(30_000, 1),
  KEEP_ALIVE_TIMEOUT_MS: integer(5_000, 1),
  MAX_CONNECTIONS: integer(1000, 1),
  APPLY_MAX_ATTEMPTS: integer(defaultApplyMaxAttempts, 1),
  // The store's work on its own thread, off the event loop that answers webhooks (docs/design.md#the-apply-thread).
  APPLY_THREAD: z
    .enum(['on', 'off'], 'must be "on" or "off"')
    .default('on')
    .transform((value) => value === 'on'),
  SHUTDOWN_TIMEOUT_MS: integer(25_000, 0),
  QUARANTINE_MAX: integer(1000, 0),
  // Sinks: where effective membership changes go after apply (docs/sinks.md). Each sink's own
  // SINK_<NAME>_* settings are read by its schema, below. None by default: the worker logs a line
  // per batch, and a line per change only at LOG_LEVEL=debug or with SINKS=log.
  SINKS: list.transform((names) => (names.length === 0 ? ['none'] : names)),
  SINK_MAX_ATTEMPTS: integer(defaultSinkMaxAttempts, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // The inspector page and the delivery log behind it (docs/inspect.md). `off` also stops recording.
  INSPECT: z
    .enum(['on', 'off'], 'must be "on" or "off"')
    .default('on')
    .transform((value) => value === 'on'),
  INSPECT_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be a path like "/inspect" (no trailing "/")')
    .default('/inspect'),
  // Kept in memory with QUEUE=memory: a million rows is already hundreds of MB.
  INSPECT_MAX_DELIVERIES: integer(defaultMaxDeliveries, 1, 1_000_000),
  // The page's login tokens, so Amplitude's secret (AUTH_TOKENS) and the operators' rotate apart.
  ADMIN_TOKENS: list,
  // Proxies whose X-Forwarded-Proto / -Host the inspector believes (docs/inspect.md#behind-a-tls-proxy-trust_proxy).
  TRUST_PROXY: list.superRefine((entries, context) => {
    for (const entry of entries) {
      const problem = proxyEntryProblem(entry);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    }
  }),
});

/** Variables that each sink now has under its own name: a leftover would otherwise do nothing. */
const renamed: Record<string, string> = {
  SINK_RATE_PER_SECOND: 'SINK_HTTP_RATE_PER_SECOND',
  SINK_CONCURRENCY: 'SINK_HTTP_CONCURRENCY',
  SINK_BATCH_SIZE: 'SINK_HTTP_BATCH_SIZE',
  SINK_TIMEOUT_MS: 'SINK_HTTP_TIMEOUT_MS',
};

type Parsed = z.output<typeof configSchema>;

export type Config = Omit<Parsed, 'HOST' | 'SINKS'> & {
  HOST: string;
  /** The sinks to build, each with its checked settings; empty for `SINKS=none`. */
  SINKS: SinkSetup[];
};

/**
 * Parses the environment into a typed Config. Pure: it reads only `env`.
 * @throws ConfigError naming every bad variable, one line each.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set": `PORT= npm start` should not fail on "" being no number.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  ) as Record<string, string>;
  const result = configSchema.safeParse(present);
  const issues: ConfigIssue[] = result.success
    ? []
    : result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '*'),
        message: issue.message,
      }));
  for (const [old, now] of Object.entries(renamed)) {
    if (present[old] !== undefined) {
      issues.push({ variable: old, message: `renamed ${now}: each sink has its own (docs/sinks.md)` });
    }
  }
  // Read even when other variables are bad, so one refusal names every bad variable.
  const sinks = sinkSetups(configSchema.shape.SINKS.parse(present.SINKS), present, issues);
  if (result.success) issues.push(...crossChecks(result.data, present));
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  const parsed = result.data;
  return { ...parsed, HOST: parsed.HOST ?? defaultHost(parsed), SINKS: sinks };
}

function sinkSetups(entries: string[], env: Record<string, string>, issues: ConfigIssue[]): SinkSetup[] {
  if (entries.includes('none')) {
    if (entries.length > 1) issues.push({ variable: 'SINKS', message: '"none" cannot be listed with sinks' });
    return [];
  }
  const read = readSinkSetups(entries, env, sinkDefinitions);
  issues.push(...read.issues);
  return read.setups;
}

/** Without tokens, only this machine may reach the endpoint unless HOST says otherwise. */
const defaultHost = (config: Parsed) => (config.AUTH_TOKENS.length === 0 ? '127.0.0.1' : '0.0.0.0');

function crossChecks(config: Parsed, env: Record<string, string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // Node's http server refuses this pair at construction; say it in the configuration's words instead.
  if (config.HEADERS_TIMEOUT_MS > config.REQUEST_TIMEOUT_MS) {
    issues.push({
      variable: 'HEADERS_TIMEOUT_MS',
      message: 'must not exceed REQUEST_TIMEOUT_MS (the whole request includes its headers)',
    });
  }
  // A worker process has no webhook: with a memory queue nothing could ever reach it.
  if (config.ROLE === 'worker' && config.QUEUE === 'memory') {
    issues.push({
      variable: 'ROLE',
      message: 'ROLE=worker needs a queue other processes can fill: QUEUE=sqlite or QUEUE=redis',
    });
  }
  // The webhook route would shadow the page, or the page the probes and the read API.
  const taken = [config.WEBHOOK_PATH, '/healthz', '/readyz', '/metrics', '/cohorts', '/users'];
  const inspect = config.INSPECT_PATH;
  const clash = taken.find(
    (path) => path === inspect || path.startsWith(`${inspect}/`) || inspect.startsWith(`${path}/`),
  );
  if (config.INSPECT && clash !== undefined) {
    issues.push({
      variable: 'INSPECT_PATH',
      message: `must not overlap ${clash}, which the receiver serves`,
    });
  }
  const authOff = env.AUTH_TOKENS?.trim() === 'none';
  if (config.AUTH_TOKENS.includes('none') && !authOff) {
    issues.push({ variable: 'AUTH_TOKENS', message: '"none" (auth off) cannot be listed with tokens' });
  }
  // An endpoint open to the network must not take changes from anyone by accident.
  const exposed = config.HOST !== undefined && !isLoopback(config.HOST);
  if (config.AUTH_TOKENS.length === 0 && !authOff && exposed) {
    issues.push({
      variable: 'AUTH_TOKENS',
      message: `required when HOST=${config.HOST} is reachable from the network; set AUTH_TOKENS=none to run without auth anyway`,
    });
  }
  return issues;
}

/** loadConfig for an entry point: the Config, or the refusal to print (one line per bad variable). */
export function configOrRefusal(
  env: Record<string, string | undefined>,
): { config: Config } | { refusal: string } {
  try {
    return { config: loadConfig(env) };
  } catch (error) {
    if (error instanceof ConfigError) return { refusal: error.message };
    throw error;
  }
}
