/**
 * @module How a sink plugs in (docs/sinks.md): its kind, the name `SINKS` knows it by; a zod schema
 * of its own settings, each read from `SINK_<NAME>_<KEY>` and checked at start-up; and a factory.
 * `src/sinks/registry.ts` lists the definitions: adding a sink is one line there.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { createLogSink } from '../core/sinks/log.ts';
import type { Sink } from '../core/sinks/sink.ts';

export interface SinkContext {
  /** The sink's name: its kind, or `kind-label` for `SINKS=kind:label`. Give it to `Sink.name`. */
  name: string;
  logger: Logger;
}

export interface SinkDefinition<Settings extends z.ZodObject = z.ZodObject> {
  /** What `SINKS` names: lowercase letters, digits and `-`, e.g. `http` or `my-crm`. */
  kind: string;
  /** Its settings: key `URL` of sink `my-crm` is read from `SINK_MY_CRM_URL`. Defaults go here. */
  settings: Settings;
  /** Builds the sink from its checked settings. */
  create(settings: z.output<Settings>, context: SinkContext): Sink;
}

/** Only gives `create` its settings' type; the definition is returned as it is. */
export function defineSink<Settings extends z.ZodObject>(
  definition: SinkDefinition<Settings>,
): SinkDefinition<Settings> {
  return definition;
}

/** Where a sink's variables start: `http` → `SINK_HTTP_`, `http-crm` → `SINK_HTTP_CRM_`. */
export function settingsPrefix(name: string): string {
  return `SINK_${name.toUpperCase().replaceAll('-', '_')}_`;
}

/** The core's `log` sink, which has no settings. */
export const logSink = defineSink({
  kind: 'log',
  settings: z.object({}),
  create: (_settings, { name, logger }) => createLogSink(logger, name),
});
