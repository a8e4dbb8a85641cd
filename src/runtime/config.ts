/**
 * @module The configuration: the receiver's own variables, every extension's and every sink's,
 * parsed and checked once at start-up (docs/operations.md, docs/sinks.md).
 */
import { z } from 'zod';
import { ConfigError, type ConfigIssue, issuesOf } from './config-error.ts';
import { type CoreConfig, coreSchema, type ParsedCore } from './core-config.ts';
import type { Capabilities, Extension } from './extension.ts';
import { isLoopback } from './loopback.ts';
import { list } from './settings.ts';
import type { SinkDefinition } from './sink-definition.ts';
import { readSinkSetups, type SinkSetup, unknownSinkVariables } from './sink-settings.ts';
import { weakTokens } from './weak-tokens.ts';

/** An extension with its checked settings and what they let it offer. */
export interface LoadedExtension {
  name: string;
  /** Its checked settings. */
  settings: unknown;
  capabilities: Capabilities;
}

export type { CoreConfig };

export interface Config extends CoreConfig {
  /** The sinks to build, each with its checked settings; empty for `SINKS=none`. */
  SINKS: SinkSetup[];
  extensions: LoadedExtension[];
}

/** What this build is made of: its extensions and the sinks `SINKS` may name. */
export interface Parts {
  extensions: readonly Extension[];
  sinks: readonly SinkDefinition[];
}

/** Variables that each sink now has under its own name: a leftover would otherwise do nothing. */
const renamed: Record<string, string> = {
  SINK_RATE_PER_SECOND: 'SINK_HTTP_RATE_PER_SECOND',
  SINK_CONCURRENCY: 'SINK_HTTP_CONCURRENCY',
  SINK_BATCH_SIZE: 'SINK_HTTP_BATCH_SIZE',
  SINK_TIMEOUT_MS: 'SINK_HTTP_TIMEOUT_MS',
};

/**
 * Parses the environment into a Config. Pure: it reads only `env`, and extensions open nothing
 * until the receiver starts.
 * @throws ConfigError naming every bad variable, one line each.
 */
export function loadConfigOf(parts: Parts, env: Record<string, string | undefined>): Config {
  // An empty variable means "not set": `PORT= npm start` should not fail on "" being no number.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  ) as Record<string, string>;
  const issues: ConfigIssue[] = [];
  const extensions = parts.extensions.map((extension) => {
    const parsed = (extension.settings ?? z.object({})).safeParse(present);
    if (!parsed.success) issues.push(...issuesOf(parsed.error));
    return {
      name: extension.name,
      settings: parsed.data,
      capabilities: parsed.success ? extension.use(parsed.data) : {},
    };
  });
  const offered = (kind: 'queues' | 'stores') =>
    extensions.flatMap(({ capabilities }) => Object.keys(capabilities[kind] ?? {}));
  // The defaults: the first queue and store an extension offers (the embedded SQLite files), else memory.
  const defaultFirst = (names: string[]): [string, ...string[]] =>
    names.length > 0 ? [names[0] as string, 'memory', ...names.slice(1)] : ['memory'];
  const core = coreSchema({
    queues: defaultFirst(offered('queues')),
    stores: defaultFirst(offered('stores')),
  }).safeParse(present);
  // The receiver's own variables first, as the reader of the refusal expects them.
  if (!core.success) issues.unshift(...issuesOf(core.error));
  for (const [old, now] of Object.entries(renamed)) {
    if (present[old] !== undefined) {
      issues.push({ variable: old, message: `renamed ${now}: each sink has its own (docs/sinks.md)` });
    }
  }
  // Read even when other variables are bad, so one refusal names every bad variable.
  const sinks = sinkSetups(present.SINKS, present, parts.sinks, issues);
  // An extension's own SINK_* settings (the guard's) are read by it, not by a sink.
  const extensionKeys = parts.extensions.flatMap(({ settings }) =>
    settings instanceof z.ZodObject ? Object.keys(settings.shape) : [],
  );
  const reserved = ['SINKS', 'SINK_MAX_ATTEMPTS', ...Object.keys(renamed), ...extensionKeys];
  issues.push(...unknownSinkVariables(present, parts.sinks, sinks, reserved));
  if (!core.success || issues.length > 0) throw new ConfigError(issues);

  const parsed = core.data;
  const config: Config = { ...parsed, HOST: parsed.HOST ?? defaultHost(parsed), SINKS: sinks, extensions };
  issues.push(
    ...crossChecks(config, present),
    ...extensions.flatMap(({ capabilities }) => capabilities.check?.(config) ?? []),
  );
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

function sinkSetups(
  variable: string | undefined,
  env: Record<string, string>,
  definitions: readonly SinkDefinition[],
  issues: ConfigIssue[],
): SinkSetup[] {
  const entries = list.parse(variable);
  if (entries.length === 0 || entries.includes('none')) {
    if (entries.length > 1) issues.push({ variable: 'SINKS', message: '"none" cannot be listed with sinks' });
    return [];
  }
  const read = readSinkSetups(entries, env, definitions);
  issues.push(...read.issues);
  return read.setups;
}

/** Without tokens, or with a weak one, only this machine may reach the endpoint unless HOST says otherwise. */
const defaultHost = (config: ParsedCore) =>
  config.AUTH_TOKENS.length === 0 || weakTokens(config.AUTH_TOKENS).length > 0 ? '127.0.0.1' : '0.0.0.0';

function crossChecks(config: Config, env: Record<string, string>): ConfigIssue[] {
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
  const authOff = env.AUTH_TOKENS?.trim() === 'none';
  if (config.AUTH_TOKENS.includes('none') && !authOff) {
    issues.push({ variable: 'AUTH_TOKENS', message: '"none" (auth off) cannot be listed with tokens' });
  }
  // An endpoint open to the network must not take changes from anyone by accident.
  const exposed = env.HOST !== undefined && !isLoopback(config.HOST);
  if (config.AUTH_TOKENS.length === 0 && !authOff && exposed) {
    issues.push({
      variable: 'AUTH_TOKENS',
      message: `required when HOST=${config.HOST} is reachable from the network; set AUTH_TOKENS=none to run without auth anyway`,
    });
  }
  return issues;
}

/** loadConfigOf for an entry point: the Config, or the refusal to print (one line per bad variable). */
export function configOrRefusalOf(
  parts: Parts,
  env: Record<string, string | undefined>,
): { config: Config } | { refusal: string } {
  try {
    return { config: loadConfigOf(parts, env) };
  } catch (error) {
    if (error instanceof ConfigError) return { refusal: error.message };
    throw error;
  }
}

/** The checked settings of the extension named `name` (SQLITE_PATH, INSPECT…), for a reader that is not it. */
export function settingsOf(config: Config, name: string): Readonly<Record<string, unknown>> {
  return (config.extensions.find((extension) => extension.name === name)?.settings ?? {}) as Record<
    string,
    unknown
  >;
}
