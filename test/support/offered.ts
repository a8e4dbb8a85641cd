/** @module What this build's extensions offer for QUEUE and STORE, as its refusals list them. */
import { loadConfig } from '../../src/compose.ts';
import { settingsOf } from '../../src/runtime/config.ts';

/** The QUEUE or STORE values this build takes, default first, as a refusal words them: `"a"|"b"`. */
export function offeredChoices(variable: 'QUEUE' | 'STORE'): string {
  const config = loadConfig({});
  const kind = variable === 'QUEUE' ? 'queues' : 'stores';
  const offered = config.extensions.flatMap(({ capabilities }) => Object.keys(capabilities[kind] ?? {}));
  const names = [config[variable], ...['memory', ...offered].filter((name) => name !== config[variable])];
  return names.map((name) => `"${name}"`).join('|');
}

/** Every variable this build reads: the receiver's own and each extension's (sinks' apart). */
export function buildVariables(): Set<string> {
  const config = loadConfig({});
  return new Set([
    ...Object.keys(config).filter((key) => key !== 'extensions'),
    ...config.extensions.flatMap((extension) => Object.keys(settingsOf(config, extension.name))),
  ]);
}
