/** @module Naming a server in logs and errors without the secrets its URL may carry. */

/**
 * `url` without its user, password, query and fragment (a query may hold a key): scheme, host,
 * port and path. `unparsable` stands in for a URL that does not parse, whose parts cannot be told apart.
 */
export function redactUrl(url: string, unparsable = 'the configured URL'): string {
  try {
    const { protocol, host, pathname } = new URL(url);
    return `${protocol}//${host}${pathname === '/' ? '' : pathname}`;
  } catch {
    return unparsable;
  }
}
