/** @module loadConfig(env): the one place configuration is parsed and checked (DESIGN.md section 2). */
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const integer = (defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(defaultValue);

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

/** SINK_HTTP_HEADERS: a JSON object, the one format in which any header value can be written. */
function parseJsonObject(text: string, context: z.RefinementCtx): unknown {
  try {
    return JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"Authorization":"Bearer …"}' });
    return z.NEVER;
  }
}

const configSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  WEBHOOK_PATH: z.string().startsWith('/', 'must start with "/"').default('/webhook'),
  AUTH_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
    .default('authorization')
    .transform((name) => name.toLowerCase()),
  AUTH_TOKENS: list,
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
  REDIS_CLAIM_IDLE_MS: integer(30_000, 100),
  MAX_BODY_BYTES: integer(33_554_432, 1),
  MAX_USERS_PER_BATCH: integer(100_000, 1),
  MAX_USER_ID_LENGTH: integer(1024, 1),
  MAX_PROPERTIES_PER_USER: integer(200, 0),
  // Deeper values would overflow the stack when the store serialises them (JSON.stringify recurses).
  MAX_PROPERTY_DEPTH: integer(32, 1, 1000),
  // Slow clients (section "Security and limits" of the README): Node's own defaults (60 s for
  // headers, 300 s for a request) let a slow-loris client hold a connection for minutes.
  HEADERS_TIMEOUT_MS: integer(10_000, 1),
  REQUEST_TIMEOUT_MS: integer(30_000, 1),
  KEEP_ALIVE_TIMEOUT_MS: integer(5_000, 1),
  MAX_CONNECTIONS: integer(1000, 1),
  APPLY_MAX_ATTEMPTS: integer(5, 1),
  SHUTDOWN_TIMEOUT_MS: integer(25_000, 0),
  QUARANTINE_MAX: integer(1000, 0),
  // Sinks: where effective membership changes go after apply (README "Make it yours").
  // Names are checked against src/sinks/registry.ts at start, so a new sink is one line there.
  SINKS: list.transform((names) => (names.length === 0 ? ['log'] : names.join() === 'none' ? [] : names)),
  SINK_HTTP_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    // fetch refuses such a URL, and its error would print the password into the log.
    .refine(
      (url) => !URL.canParse(url) || (new URL(url).username === '' && new URL(url).password === ''),
      'must not carry a user or password: put credentials in SINK_HTTP_HEADERS',
    )
    .optional(),
  SINK_HTTP_HEADERS: z
    .string()
    .default('{}')
    .transform(parseJsonObject)
    .pipe(z.record(z.string().regex(/^[!#$%&'*+.^_`|~\w-]+$/), z.string().regex(/^[^\r\n\0]*$/))),
  SINK_RATE_PER_SECOND: z.coerce.number().positive().optional(),
  SINK_CONCURRENCY: integer(4, 1, 256),
  SINK_BATCH_SIZE: integer(100, 1, 100_000),
  SINK_MAX_ATTEMPTS: integer(8, 1),
  SINK_TIMEOUT_MS: integer(10_000, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

// Node's http server refuses this pair at construction; say it in the configuration's words instead.
const checkedConfigSchema = configSchema
  .refine((config) => config.HEADERS_TIMEOUT_MS <= config.REQUEST_TIMEOUT_MS, {
    path: ['HEADERS_TIMEOUT_MS'],
    message: 'must not exceed REQUEST_TIMEOUT_MS (the whole request includes its headers)',
  })
  .refine((config) => config.ROLE !== 'worker' || config.QUEUE !== 'memory', {
    path: ['ROLE'],
    // A worker process has no webhook: with a memory queue nothing could ever reach it.
    message: 'ROLE=worker needs a queue other processes can fill: QUEUE=sqlite or QUEUE=redis',
  });

export type Config = z.output<typeof configSchema>;

/**
 * Parses the environment into a typed Config. Pure: it reads only `env`.
 * @throws ConfigError naming every bad variable, one per line.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set": `PORT= npm start` should not fail on "" being no number.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = checkedConfigSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}
