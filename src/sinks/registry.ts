/**
 * @module The sinks `SINKS` can name. Adding a sink of your own is one line in `sinkDefinitions`
 * (docs/sinks.md); loadConfig checks the settings of every sink `SINKS` names at start-up.
 */
import { logSink, type SinkDefinition } from '../runtime/sink-definition.ts';
import { exampleCrmTagsSink } from './example-crm-tags.ts';
import { httpSink } from './http.ts';
import { ndjsonFileSink } from './ndjson-file.ts';

export const sinkDefinitions: readonly SinkDefinition[] = [
  logSink,
  httpSink,
  exampleCrmTagsSink,
  ndjsonFileSink,
];
