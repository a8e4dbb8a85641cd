/**
 * @module The line `npm run dlq` starts with: where it reads the dead letters. An operator whose
 * shell lacks the receiver's QUEUE or KEY_PREFIX otherwise sees "no letters" and believes it.
 */
import type { Config } from '../runtime/config.ts';
import { redactUrl } from '../runtime/redact-url.ts';

export function letterSource(config: Pick<Config, 'QUEUE' | 'REDIS_URL' | 'KEY_PREFIX' | 'SQLITE_PATH'>) {
  if (config.QUEUE === 'redis') {
    const url = redactUrl(config.REDIS_URL, '(REDIS_URL, unparsable)');
    return `reading dead letters from Redis ${url} (KEY_PREFIX=${config.KEY_PREFIX})`;
  }
  return `reading dead letters from SQLite ${config.SQLITE_PATH} (QUEUE=${config.QUEUE})`;
}
