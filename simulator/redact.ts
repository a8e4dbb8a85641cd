/**
 * @module Masks the shared secret a URL may carry as `?token=` in everything the simulator prints
 * or writes: the report, progress, errors and the JSON result.
 */

/** `?token=…` or `&token=…` up to the next parameter, fragment, whitespace or quote. */
const tokenParameter = /([?&]token=)[^&#\s"'`<>]*/gi;
/** Shorter secrets are not masked as free text: a one-letter token would garble every line. */
const minimumLiteralLength = 4;

/** `url` (or any text) with the value of every `token` query parameter replaced by `***`. */
export function redactToken(url: string): string {
  // Already masked stays as it is: in `?token=***: 3 reads` the value seems to run on to the colon.
  return url.replace(tokenParameter, (whole, name: string) =>
    whole.startsWith(`${name}***`) ? whole : `${name}***`,
  );
}

/**
 * The `token` values of these URLs, raw and decoded: an endpoint may echo one in an error body,
 * outside any URL, so the CLI masks them as plain text too.
 */
export function tokenSecrets(urls: readonly string[]): string[] {
  const secrets = new Set<string>();
  for (const url of urls) {
    for (const match of url.matchAll(tokenParameter)) {
      const raw = match[0].slice(match[1]?.length ?? 0);
      if (raw.startsWith('***')) continue;
      secrets.add(raw);
      try {
        secrets.add(decodeURIComponent(raw.replaceAll('+', ' ')));
      } catch {
        // A malformed %-escape: the raw value is masked all the same.
      }
    }
  }
  return [...secrets].filter((secret) => secret.length >= minimumLiteralLength);
}

/** `text` with every `?token=` value and every one of `secrets` masked. */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let masked = redactToken(text);
  // Longest first, so a secret containing another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    masked = masked.replaceAll(secret, '***');
  }
  return masked;
}
