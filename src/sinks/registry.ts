/**
 * @module The sinks `SINKS` can name, each built from the configuration. Adding a sink of your own
 * is one line here (README "Make it yours").
 */
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { createCrmTagsSink } from './example-crm-tags.ts';
import { createHttpSink } from './http.ts';
import { createLogSink } from './log.ts';
import type { Sink } from './sink.ts';

export interface SinkContext {
  config: Config;
  logger: Logger;
}

export const sinkFactories = {
  log: ({ logger }) => createLogSink(logger),
  http: ({ config }) => createHttpSink(httpSinkOptions(config, 'http')),
  'example-crm-tags': ({ config }) => createCrmTagsSink(httpSinkOptions(config, 'example-crm-tags')),
} satisfies Record<string, (context: SinkContext) => Sink>;

export type SinkName = keyof typeof sinkFactories;

/**
 * Builds the sinks `config.SINKS` names, in that order.
 * @throws ConfigError naming an unknown sink, or a missing setting of a named one.
 */
export function createSinks(context: SinkContext): Sink[] {
  const unknown = context.config.SINKS.filter((name) => !Object.hasOwn(sinkFactories, name));
  if (unknown.length > 0) {
    const known = Object.keys(sinkFactories).join(', ');
    throw new ConfigError(
      `invalid configuration:\n✖ SINKS: unknown sink "${unknown.join('", "')}"; known: ${known}, none`,
    );
  }
  return [...new Set(context.config.SINKS)].map((name) => sinkFactories[name as SinkName](context));
}

/**
 * The `http` sink's options from `SINK_HTTP_*` and `SINK_*`; a sink of your own that POSTs
 * somewhere can build on it too.
 * @throws ConfigError when SINK_HTTP_URL is missing.
 */
export function httpSinkOptions(config: Config, sinkName: string) {
  if (config.SINK_HTTP_URL === undefined) {
    throw new ConfigError(
      `invalid configuration:\n✖ SINK_HTTP_URL is required when SINKS names "${sinkName}"`,
    );
  }
  return {
    url: config.SINK_HTTP_URL,
    headers: config.SINK_HTTP_HEADERS,
    ratePerSecond: config.SINK_RATE_PER_SECOND,
    concurrency: config.SINK_CONCURRENCY,
    batchSize: config.SINK_BATCH_SIZE,
    timeoutMs: config.SINK_TIMEOUT_MS,
  };
}
