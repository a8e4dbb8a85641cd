/**
 * @module The sinks `SINKS` can name. Adding a sink of your own is one line in `sinkDefinitions`
 * (docs/sinks.md); loadConfig checks the settings of every sink `SINKS` names at start-up.
 */
import type { Logger } from 'pino';
import { logSink } from '../core/sinks/log.ts';
import type { Sink } from '../core/sinks/sink.ts';
import type { SinkDefinition } from '../runtime/sink-definition.ts';
import type { SinkSetup } from '../runtime/sink-settings.ts';
import { exampleCrmTagsSink } from './example-crm-tags.ts';
import { httpSink } from './http.ts';

export const sinkDefinitions: readonly SinkDefinition[] = [logSink, httpSink, exampleCrmTagsSink];

/** Builds the sinks `SINKS` names, in that order, from the settings loadConfig checked. */
export function createSinks(setups: readonly SinkSetup[], logger: Logger): Sink[] {
  return setups.map(({ kind, name, settings }) => {
    const definition = sinkDefinitions.find((candidate) => candidate.kind === kind);
    if (definition === undefined) throw new Error(`no sink definition for "${kind}"`);
    return definition.create(settings, { name, logger });
  });
}
