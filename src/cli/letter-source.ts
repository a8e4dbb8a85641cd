/**
 * @module The line `npm run dlq` starts with: where it reads the dead letters. An operator whose
 * shell lacks the receiver's QUEUE or KEY_PREFIX otherwise sees "no letters" and believes it.
 */
import type { Config } from '../config.ts';

export function letterSource(config: Pick<Config, 'QUEUE' | 'REDIS_URL' | 'KEY_PREFIX' | 'SQLITE_PATH'>) {
  if (config.QUEUE === 'redis') {
    const url = withoutCredentials(config.REDIS_URL);
    return `reading dead letters from Redis ${url} (KEY_PREFIX=${config.KEY_PREFIX})`;
  }
  return `reading dead letters from SQLite ${config.SQLITE_PATH} (QUEUE=${config.QUEUE})`;
}

/** The URL without its user, password or query (where `?password=` would be). */
export function withoutCredentials(url: string): string {
  if (!URL.canParse(url)) return '(REDIS_URL, unparsable)';
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  return parsed.href;
}
