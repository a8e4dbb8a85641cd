/**
 * @module The composition module: the one place that lists what this receiver is made of. Each
 * backend and extra is a folder wired by one line below; delete the folder and its line, and the
 * receiver goes on without it (the core in src/core/ and src/runtime/ need none of them).
 */
import { applyThread } from './apply-thread/extension.ts';
import { inspector } from './inspect/extension.ts';
import { postgres } from './postgres/extension.ts';
import { redis } from './redis/extension.ts';
import { replay } from './replay/extension.ts';
import { type Config, configOrRefusalOf, loadConfigOf, type Parts } from './runtime/config.ts';
import type { Extension } from './runtime/extension.ts';
import { sinkControl } from './sink-control/extension.ts';
import { sinkDefinitions } from './sinks/registry.ts';
import { sqlite } from './sqlite/extension.ts';

export const extensions: readonly Extension[] = [
  sqlite,
  redis,
  postgres,
  applyThread,
  replay,
  sinkControl,
  inspector,
] as Extension[];

const parts: Parts = { extensions, sinks: sinkDefinitions };

/** Parses the environment into a typed Config. @throws ConfigError naming every bad variable. */
export const loadConfig = (env: Record<string, string | undefined>): Config => loadConfigOf(parts, env);

/** loadConfig for an entry point: the Config, or the refusal to print. */
export const configOrRefusal = (env: Record<string, string | undefined>) => configOrRefusalOf(parts, env);

export {
  type Backends,
  batchParserFor,
  openBackends,
  type RunningReceiver,
  type StartOptions,
  startReceiver,
} from './runtime/receiver.ts';
export type { Config };
