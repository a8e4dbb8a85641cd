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
  QUEUE: z.enum(['memory']).default('memory'),
  STORE: z.enum(['sqlite', 'memory']).default('sqlite'),
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
  MAX_BODY_BYTES: integer(33_554_432, 1),
  MAX_USERS_PER_BATCH: integer(100_000, 1),
  MAX_USER_ID_LENGTH: integer(1024, 1),
  MAX_PROPERTIES_PER_USER: integer(200, 0),
  APPLY_MAX_ATTEMPTS: integer(5, 1),
  SHUTDOWN_TIMEOUT_MS: integer(25_000, 0),
  QUARANTINE_MAX: integer(1000, 0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  const result = configSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}
