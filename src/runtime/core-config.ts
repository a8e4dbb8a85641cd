/** @module The receiver's own variables, checked at start-up; each extension's are its own. */
import { z } from 'zod';
import { defaultPayloadLimits } from '../core/payload/limits.ts';
import { defaultSinkMaxAttempts } from '../core/sinks/retry.ts';
import { defaultApplyMaxAttempts } from '../core/worker.ts';
import { integer, list } from './settings.ts';

/**
 * The receiver's own variables. QUEUE and STORE take the names the core (`memory`) and the extensions
 * offer, the default first.
 */
export function coreSchema(offered: { queues: [string, ...string[]]; stores: [string, ...string[]] }) {
  return z.object({
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
    QUEUE: z.enum(offered.queues).default(offered.queues[0]),
    STORE: z.enum(offered.stores).default(offered.stores[0]),
    KEY_PREFIX: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'must be lowercase letters, digits, "_" or "-", starting with a letter')
      .default('cohort-receiver'),
    ROLE: z.enum(['all', 'receiver', 'worker']).default('all'),
    DEDUPE_TTL_SECONDS: integer(604_800, 1),
    QUEUE_MAX_USERS: integer(5_000_000, 1),
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
    // A connection that sends nothing is closed sooner than HEADERS_TIMEOUT_MS: real clients send at once.
    FIRST_BYTE_TIMEOUT_MS: integer(3_000, 1),
    APPLY_MAX_ATTEMPTS: integer(defaultApplyMaxAttempts, 1),
    SHUTDOWN_TIMEOUT_MS: integer(25_000, 0),
    QUARANTINE_MAX: integer(1000, 0),
    // Where effective membership changes go after apply (docs/sinks.md); each sink's own
    // SINK_<NAME>_* settings are read by its schema. None by default: the worker logs a line per batch.
    SINKS: list.transform((names) => (names.length === 0 ? ['none'] : names)),
    SINK_MAX_ATTEMPTS: integer(defaultSinkMaxAttempts, 1),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  });
}

export type ParsedCore = z.output<ReturnType<typeof coreSchema>>;

/** The receiver's own settings, as every extension sees them. */
export type CoreConfig = Omit<ParsedCore, 'HOST' | 'SINKS'> & { HOST: string };
