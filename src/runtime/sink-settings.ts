/**
 * @module Sink settings from the environment: which sinks `SINKS` names, and each one's
 * `SINK_<NAME>_*` variables read through its own schema. loadConfig calls it, so a bad sink setting
 * stops start-up with the same one line per variable as any other setting.
 */
import { type Logger, pino } from 'pino';
import { z } from 'zod';
import { routeSettings, type SinkRoute } from '../core/sinks/route.ts';
import type { Sink } from '../core/sinks/sink.ts';
import { closestName } from './closest-name.ts';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { type SinkDefinition, settingsPrefix } from './sink-definition.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** One sink `SINKS` names, with its checked settings. */
export interface SinkSetup {
  definition: SinkDefinition;
  /** `kind`, or `kind-label` for `kind:label`: names it in logs, metrics, dead letters, variables. */
  name: string;
  settings: Record<string, unknown>;
  /** What it takes, from `SINK_<NAME>_COHORTS` and `SINK_<NAME>_DIRECTIONS`. */
  route: SinkRoute;
}

/** The settings every sink reads beside its own (docs/sinks.md#routing). */
const routeKeys = Object.keys(routeSettings);

/** Builds the sinks `SINKS` names, in that order, from the settings loadConfig checked. */
export function createSinks(setups: readonly SinkSetup[], logger: Logger): Sink[] {
  return setups.map(({ definition, name, settings }) => definition.create(settings, { name, logger }));
}

const entryPattern = /^([a-z][a-z0-9-]*)(?::([a-z][a-z0-9-]*))?$/;

/**
 * The sinks `entries` name (`log`, `http`, `http:crm`, …), each once, in order, with their settings
 * read from `env`; or what is wrong, one issue per bad variable.
 */
export function readSinkSetups(
  entries: readonly string[],
  env: Env,
  definitions: readonly SinkDefinition[],
): { setups: SinkSetup[]; issues: ConfigIssue[] } {
  const setups: SinkSetup[] = [];
  const issues: ConfigIssue[] = [];
  const known = definitions.map((definition) => definition.kind);
  for (const entry of entries) {
    const [, kind = '', label] = entryPattern.exec(entry) ?? [];
    const definition = definitions.find((candidate) => candidate.kind === kind);
    if (definition === undefined) {
      const message = kind
        ? `unknown sink "${kind}"; known: ${known.join(', ')}, none`
        : `"${entry}" is not a sink: lowercase letters, digits and "-", or kind:label (e.g. http:crm)`;
      issues.push({ variable: 'SINKS', message });
      continue;
    }
    const name = label === undefined ? kind : `${kind}-${label}`;
    if (setups.some((setup) => setup.name === name)) continue;
    const read = readSettings(definition, name, env);
    const route = readRoute(name, env);
    if ('issues' in read) issues.push(...read.issues);
    if ('issues' in route) issues.push(...route.issues);
    if (!('issues' in read) && !('issues' in route))
      setups.push({
        definition,
        name,
        settings: read.settings,
        route: routeOf(route.settings),
      });
  }
  return { setups, issues };
}

/**
 * Builds one sink from variables the way start-up does, e.g. in a test:
 * `buildSink(mySink, { SINK_MY_CRM_URL: downstream.url })`.
 * @throws ConfigError naming each bad variable.
 */
export function buildSink(
  definition: SinkDefinition,
  env: Env,
  options: { name?: string; logger?: Logger } = {},
): Sink {
  const name = options.name ?? definition.kind;
  const read = readSettings(definition, name, env);
  if ('issues' in read) throw new ConfigError(read.issues);
  return definition.create(read.settings, { name, logger: options.logger ?? pino({ level: 'silent' }) });
}

const routeSchema = z.object(routeSettings);

/** A sink's route, read like its own settings. */
function readRoute(name: string, env: Env) {
  return readSchema(routeSchema, name, env);
}

function routeOf(settings: Record<string, unknown>): SinkRoute {
  const { COHORTS, DIRECTIONS } = settings as z.output<typeof routeSchema>;
  return { cohorts: COHORTS, directions: DIRECTIONS };
}

function readSettings(
  definition: SinkDefinition,
  name: string,
  env: Env,
): { settings: Record<string, unknown> } | { issues: ConfigIssue[] } {
  return readSchema(definition.settings, name, env);
}

function readSchema(
  schema: z.ZodObject,
  name: string,
  env: Env,
): { settings: Record<string, unknown> } | { issues: ConfigIssue[] } {
  const prefix = settingsPrefix(name);
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[`${prefix}${key}`];
    // Empty means unset, as for every other variable.
    if (value !== undefined && value !== '') input[key] = value;
  }
  // An unset variable is "required", in the same words whatever the schema (a zod default would
  // say "Invalid input: expected string, received undefined"); a message of the schema's own wins.
  const result = schema.safeParse(input, {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === undefined
        ? requiredMessage(schema, issue.path?.[0])
        : undefined,
  });
  if (result.success) return { settings: result.data };
  return {
    issues: result.error.issues.map((issue) => ({
      variable: `${prefix}${String(issue.path[0] ?? '*')}`,
      // A schema names its sibling variables as SINK_<NAME>_KEY, whatever this sink is called.
      message: issue.message.replaceAll('SINK_<NAME>_', prefix),
    })),
  };
}

/** `required`, then what the setting is for when its schema says it with `.describe(…)`. */
function requiredMessage(settings: z.ZodObject, key: PropertyKey | undefined): string {
  const description = key === undefined ? undefined : settings.shape[String(key)]?.description;
  return description === undefined ? 'required' : `required: ${description}`;
}

/**
 * The `SINK_*` variables no sink reads, each refused with the known name it most likely meant: a
 * misspelled setting would otherwise be ignored, and its sink run on the default. Known are
 * `reserved` (SINKS, SINK_MAX_ATTEMPTS…), every setting of every sink kind, and, since a
 * `kind:label` sink not listed now may be listed again, `SINK_<KIND>_<LABEL>_<KEY>` too.
 */
export function unknownSinkVariables(
  env: Env,
  definitions: readonly SinkDefinition[],
  setups: readonly SinkSetup[],
  reserved: readonly string[],
): ConfigIssue[] {
  const keysOf = (definition: SinkDefinition) => [...Object.keys(definition.settings.shape), ...routeKeys];
  const exact = new Set([
    ...reserved,
    ...definitions.flatMap((definition) =>
      keysOf(definition).map((key) => `${settingsPrefix(definition.kind)}${key}`),
    ),
    ...setups.flatMap(({ definition, name }) =>
      keysOf(definition).map((key) => `${settingsPrefix(name)}${key}`),
    ),
  ]);
  const labelled = (variable: string) =>
    definitions.some((definition) => {
      const prefix = settingsPrefix(definition.kind);
      return (
        variable.startsWith(prefix) &&
        keysOf(definition).some((key) =>
          new RegExp(`^[A-Z0-9][A-Z0-9_]*_${key}$`).test(variable.slice(prefix.length)),
        )
      );
    });
  return Object.keys(env)
    .filter((variable) => variable.startsWith('SINK_') && !exact.has(variable) && !labelled(variable))
    .sort()
    .map((variable) => ({
      variable,
      message: `no sink reads it; did you mean ${closestName(variable, exact)}? (docs/sinks.md#settings)`,
    }));
}
